// `nixseal age encrypt|decrypt`: a small age-compatible surface for scripts and
// for debugging on a host. Whole values in memory; output is written only after
// the operation succeeded (temp + rename), so a failed decrypt leaves no file.
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import type { Command } from "commander";
import {
  NixsealError,
  decrypt,
  encrypt,
  parseIdentityFile,
  parseRecipient,
  dedupeRecipients,
  parseRecipientsFileWithSources,
  writeFileAtomic,
  type Identity,
  type Recipient,
} from "../../core/index.js";
import { readAll, type CliIo } from "../io.js";
import { printWarning } from "../output.js";
import { canPrompt, promptHidden } from "../prompt.js";
import type { CommandContext } from "./context.js";

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

async function readInput(io: CliIo, file: string | undefined): Promise<Uint8Array> {
  if (file === undefined || file === "-") return readAll(io.stdin);
  return readPath(io, file, "input");
}

async function readPath(io: CliIo, file: string, what: string): Promise<Buffer> {
  const path = isAbsolute(file) ? file : resolve(io.cwd, file);
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `${what} file ${file} does not exist`, { hints: ["check the path"] });
    }
    throw new NixsealError("NIXSEAL_ERR_IO", `cannot read ${what} file ${file}: ${code ?? String(err)}`, { cause: err });
  }
}

async function writeOutput(io: CliIo, out: string | undefined, data: Uint8Array, mode: number): Promise<void> {
  if (out === undefined || out === "-") {
    await new Promise<void>((ok, fail) => io.stdout.write(data, (err) => (err ? fail(err) : ok())));
    return;
  }
  const path = isAbsolute(out) ? out : resolve(io.cwd, out);
  try {
    await writeFileAtomic(path, data, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NixsealError("NIXSEAL_ERR_IO", `cannot write output file ${out}: ${code ?? String(err)}`, { cause: err });
  }
}

/** `nixseal age encrypt` / `nixseal age decrypt`. */
export function registerAge(program: Command, ctx: CommandContext): void {
  const age = program
    .command("age")
    .description("encrypt or decrypt one age file (compatible with the age CLI; ssh-ed25519, ssh-rsa, age1 keys)");

  age
    .command("encrypt")
    .description("encrypt INPUT (or stdin) to the given recipients")
    .argument("[input]", "file to encrypt (default: stdin)")
    .option("-r, --recipient <recipient>", 'recipient: age1…, "ssh-ed25519 AAAA…" or "ssh-rsa AAAA…" (repeatable)', collect)
    .option("-R, --recipients-file <file>", "file of recipients, one per line, # comments (repeatable)", collect)
    .option("-a, --armor", "write PEM-style ASCII armor instead of binary")
    .option("-o, --output <file>", "write here (atomically) instead of stdout")
    .addHelpText(
      "after",
      `
Examples:
  nixseal age encrypt -R /etc/ssh/ssh_host_ed25519_key.pub -o db.age db-password.txt
  printf %s "$VALUE" | nixseal age encrypt -r age1… -r "ssh-ed25519 AAAA…" --armor`,
    )
    .action(async (input: string | undefined, opts: { recipient?: string[]; recipientsFile?: string[]; armor?: boolean; output?: string }) => {
      const { io } = ctx;
      const given: Array<{ recipient: Recipient; source: string }> = [];
      for (const [i, line] of (opts.recipient ?? []).entries()) given.push({ recipient: await parseRecipient(line, `-r #${i + 1}`), source: `-r #${i + 1}` });
      for (const file of opts.recipientsFile ?? []) {
        given.push(...(await parseRecipientsFileWithSources((await readPath(io, file, "recipients")).toString("utf8"), file)));
      }
      const { unique, repeats } = dedupeRecipients(given);
      for (const r of repeats) printWarning(io, `recipient ${r.source} is the same key as ${r.first}; encrypting to it once (remove the repeat)`);
      const recipients = unique.map((r) => r.recipient);
      if (recipients.length === 0) {
        throw new NixsealError("NIXSEAL_ERR_AGE_NO_RECIPIENTS", "no recipients given", {
          hints: ['add -r RECIPIENT (age1…, "ssh-ed25519 AAAA…") or -R FILE'],
        });
      }
      if (!opts.armor && opts.output === undefined && io.stdout.isTTY) {
        throw new NixsealError("NIXSEAL_ERR_AGE_BINARY_TTY", "refusing to write binary age data to a terminal", {
          hints: ["use --armor, or -o FILE, or redirect stdout"],
        });
      }
      const plaintext = await readInput(io, input);
      await writeOutput(io, opts.output, encrypt(plaintext, recipients, { armor: opts.armor }), 0o644);
    });

  age
    .command("decrypt")
    .description("decrypt INPUT (or stdin) with the given identity files")
    .argument("[input]", "age file, binary or armored (default: stdin)")
    .option("-i, --identity <file>", "identity file: SSH private key (ed25519, RSA) or AGE-SECRET-KEY-1… lines (repeatable)", collect)
    .option("-o, --output <file>", "write the plaintext here (mode 0600, atomically, only on success) instead of stdout")
    .addHelpText(
      "after",
      `
Examples:
  nixseal age decrypt -i /etc/ssh/ssh_host_ed25519_key -o /run/db-password db.age
  nixseal age decrypt -i ~/.ssh/id_ed25519 < db.age`,
    )
    .action(async (input: string | undefined, opts: { identity?: string[]; output?: string }) => {
      const { io } = ctx;
      if (!opts.identity?.length) {
        throw new NixsealError("NIXSEAL_ERR_AGE_IDENTITY", "no identity given", {
          hints: ["add -i FILE: an SSH private key (e.g. /etc/ssh/ssh_host_ed25519_key) or an age identity file"],
        });
      }
      const identities: Identity[] = [];
      for (const file of opts.identity) {
        const passphrase = canPrompt(io) ? () => promptHidden(io, `passphrase for ${file}: `) : undefined;
        identities.push(...(await parseIdentityFile(await readPath(io, file, "identity"), file, { passphrase })));
      }
      const ciphertext = await readInput(io, input);
      // decrypt() returns only after every chunk authenticated; nothing is written before.
      await writeOutput(io, opts.output, decrypt(ciphertext, identities), 0o600);
    });
}

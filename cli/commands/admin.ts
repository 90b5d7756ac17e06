import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { NixsealError, canonicalRecipient, parseRecipient, sshFingerprint, type Repo } from "../../core/index.js";
import { loadAdminIdentity, publicKeysOf } from "../identity/index.js";
import type { CliIo } from "../io.js";
import { printInfo, printJson, printTable, printWarning } from "../output.js";
import { rekey } from "../rekey/index.js";
import { openRepo, saveRepo, withLockedRepo } from "../repo/index.js";
import { didYouMean } from "../suggest.js";
import type { CommandContext } from "./context.js";

/** A recipient line, shown short: age1…(12) or the SSH key's fingerprint. */
function shortKey(recipient: string): string {
  return recipient.startsWith("age1") ? `${recipient.slice(0, 16)}…` : `${recipient.split(" ")[0]} ${sshFingerprint(recipient)}`;
}

function unknownAdmin(name: string, repo: Repo): NixsealError {
  const guess = didYouMean(name, repo.admins.map((a) => a.name));
  return new NixsealError("NIXSEAL_ERR_UNKNOWN_ADMIN", `no admin named "${name}"`, {
    hints: [...(guess ? [guess] : []), 'run "nixseal admin list" to see them'],
  });
}

/** The public key from --key or --key-file, checked and canonical. */
async function keyOption(io: CliIo, opts: { key?: string; keyFile?: string }): Promise<string> {
  if (Boolean(opts.key) === Boolean(opts.keyFile)) {
    throw new NixsealError("NIXSEAL_ERR_USAGE", "give the admin's public key one way: --key LINE or --key-file FILE", {
      hints: ['--key age1… (from "nixseal identity where" on their machine), or --key-file ~/.ssh/id_ed25519.pub'],
      exitCode: 2,
    });
  }
  let line = opts.key;
  if (opts.keyFile !== undefined) {
    const file = resolve(io.cwd, opts.keyFile);
    try {
      line = (await readFile(file, "utf8")).split(/\r?\n/).find((l) => l.trim() && !l.startsWith("#"));
    } catch (err) {
      throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `cannot read --key-file ${opts.keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    if (!line) throw new NixsealError("NIXSEAL_ERR_BAD_KEY", `${opts.keyFile} holds no public key line`);
  }
  const text = line!.trim();
  if (/AGE-SECRET-KEY-|PRIVATE KEY-----/.test(text)) {
    throw new NixsealError("NIXSEAL_ERR_BAD_KEY", "that is a private key; an admin is added by their public key", {
      hints: ["give the age1… line (age-keygen -y FILE) or the .pub of an SSH key; never share the private key"],
    });
  }
  try {
    await parseRecipient(text, opts.keyFile ?? "--key");
    return canonicalRecipient(text);
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_BAD_KEY", `${opts.keyFile ?? "--key"}: not a public key nixseal can encrypt to`, {
      hints: ["an age1… recipient, or an ssh-ed25519 / ssh-rsa public key line"],
      cause: err,
    });
  }
}

/** `nixseal admin list|add|rm`: who can decrypt every secret of the repo. */
export function registerAdmin(program: Command, ctx: CommandContext): void {
  const admin = program.command("admin").description("the admins: whose keys every secret is also encrypted to");

  admin
    .command("list")
    .description("list the admins, marking the one your identity is")
    .option("--json", "machine-readable output")
    .option("-i, --identity <file>", "mark this identity instead of yours")
    .action(async (opts: { json?: boolean; identity?: string }) => {
      const { io } = ctx;
      const { repo } = await openRepo(io.cwd);
      // which one is you: best effort, a missing identity is not an error here
      const mine = await loadAdminIdentity(io, opts.identity).then((a) => publicKeysOf(a.identities), () => [] as string[]);
      const rows = repo.admins.map((a) => ({ name: a.name, recipient: a.recipient, you: mine.includes(canonicalRecipient(a.recipient)) }));
      if (opts.json) return printJson(io, rows);
      printTable(io, ["NAME", "KEY", "YOU"], rows.map((r) => [r.name, shortKey(r.recipient), r.you ? "*" : ""]));
    });

  admin
    .command("add")
    .description("add an admin and re-encrypt every secret to them too (needs your identity)")
    .argument("<name>", "a label for them, e.g. alice@laptop")
    .option("--key <line>", "their public key: age1… or an ssh-ed25519/ssh-rsa line")
    .option("--key-file <file>", "a file holding their public key (e.g. their id_ed25519.pub)")
    .option("-i, --identity <file>", "your admin identity, to open the secrets")
    .addHelpText(
      "after",
      `
The new admin makes a key on their machine ("nixseal identity new" prints its age1… public
key) and sends you the public key only. Each secret keeps its file key and gets one stanza
for them (docs/crypto.md); nothing else changes.

Examples:
  nixseal admin add bob --key age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq
  nixseal admin add carol --key-file carol_ed25519.pub`,
    )
    .action(async (name: string, opts: { key?: string; keyFile?: string; identity?: string }) => {
      const { io } = ctx;
      if (!name.trim()) throw new NixsealError("NIXSEAL_ERR_USAGE", "an admin needs a name", { exitCode: 2 });
      const recipient = await keyOption(io, opts);
      const check = (repo: Repo) => {
        if (repo.admins.some((a) => a.name === name)) throw new NixsealError("NIXSEAL_ERR_ADMIN_EXISTS", `there is already an admin named "${name}"`, { hints: ["pick another name, or remove that admin first"] });
        const same = repo.admins.find((a) => canonicalRecipient(a.recipient) === recipient);
        if (same) throw new NixsealError("NIXSEAL_ERR_ADMIN_EXISTS", `that key is already admin "${same.name}"`, { hints: ["nothing was changed"] });
      };
      const before = await openRepo(io.cwd);
      check(before.repo);
      const names = Object.keys(before.repo.secrets).sort();
      const me = names.length ? await loadAdminIdentity(io, opts.identity) : undefined;
      const done = await withLockedRepo(io.cwd, async (loaded) => {
        check(loaded.repo);
        loaded.repo.admins.push({ name, recipient });
        const all = Object.keys(loaded.repo.secrets).sort();
        const out = all.length ? await rekey(loaded, all, me ?? (await loadAdminIdentity(io, opts.identity))) : undefined;
        await saveRepo(loaded.dir, loaded.repo);
        return out;
      });
      printInfo(io, `added admin ${name} (${shortKey(recipient)})${done ? `; re-encrypted ${done.names.length} secret${done.names.length === 1 ? "" : "s"} to them` : ""}`);
    });

  admin
    .command("rm")
    .description("remove an admin and re-encrypt every secret without them (fresh file keys; needs your identity)")
    .argument("<name>", "the admin's name")
    .option("-i, --identity <file>", "your admin identity, to open the secrets")
    .addHelpText(
      "after",
      `
Every secret gets a fresh file key, so the removed key opens none of the new blobs. It may
have kept the values, and git history keeps the old blobs: rotate what matters.

Example:
  nixseal admin rm bob`,
    )
    .action(async (name: string, opts: { identity?: string }) => {
      const { io } = ctx;
      const check = (repo: Repo) => {
        const i = repo.admins.findIndex((a) => a.name === name);
        if (i < 0) throw unknownAdmin(name, repo);
        if (repo.admins.length === 1) {
          throw new NixsealError("NIXSEAL_ERR_LAST_ADMIN", `"${name}" is the only admin: without one nobody could re-encrypt or read the secrets`, {
            hints: ["add the new admin first (nixseal admin add NAME --key …), then remove this one"],
          });
        }
        return i;
      };
      const before = await openRepo(io.cwd);
      check(before.repo);
      const me = Object.keys(before.repo.secrets).length ? await loadAdminIdentity(io, opts.identity) : undefined;
      const removed = before.repo.admins[check(before.repo)]!;
      if (me && publicKeysOf(me.identities).includes(canonicalRecipient(removed.recipient))) {
        printWarning(io, `you are removing yourself: after this, your identity opens none of this repo's secrets`);
      }
      const done = await withLockedRepo(io.cwd, async (loaded) => {
        loaded.repo.admins.splice(check(loaded.repo), 1);
        const all = Object.keys(loaded.repo.secrets).sort();
        const out = all.length ? await rekey(loaded, all, me ?? (await loadAdminIdentity(io, opts.identity))) : undefined;
        await saveRepo(loaded.dir, loaded.repo);
        return out;
      });
      printInfo(io, `removed admin ${name}${done ? `; re-encrypted ${done.names.length} secret${done.names.length === 1 ? "" : "s"} without them (fresh file keys)` : ""}`);
      if (done?.names.length) printInfo(io, `hint: ${name} may have kept the values and git history keeps the old blobs: rotate what matters (nixseal secrets rotate NAME)`);
    });
}

import type { Command } from "commander";
import { NixsealError, canonicalRecipient } from "../../core/index.js";
import {
  describeIdentity,
  exportIdentity,
  importIdentity,
  newIdentity,
  type IdentityTarget,
} from "../identity/index.js";
import { printInfo, printJson } from "../output.js";
import { openRepo } from "../repo/index.js";
import type { CommandContext } from "./context.js";

const TARGETS = ["keychain", "file"] as const;

function target(v: string | undefined): IdentityTarget | undefined {
  if (v === undefined) return undefined;
  if (!(TARGETS as readonly string[]).includes(v)) {
    throw new NixsealError("NIXSEAL_ERR_USAGE", `--to wants keychain or file, not "${v}"`, { exitCode: 2 });
  }
  return v as IdentityTarget;
}

/** The admins entry that is this key, if the current directory is in a repo. */
async function adminName(cwd: string, publicKey: string | undefined): Promise<{ inRepo: boolean; name?: string }> {
  try {
    const { repo } = await openRepo(cwd);
    const name = publicKey ? repo.admins.find((a) => canonicalRecipient(a.recipient) === publicKey)?.name : undefined;
    return { inRepo: true, name };
  } catch {
    return { inRepo: false };
  }
}

/** `nixseal identity where|export|import|new`: the admin key, wherever it lives. */
export function registerIdentity(program: Command, ctx: CommandContext): void {
  const identity = program
    .command("identity")
    .description("your admin identity: where it is, and moving it between the OS keychain and a file")
    .addHelpText(
      "after",
      `
nixseal looks for your identity in: -i/--identity FILE, NIXSEAL_IDENTITY, the OS keychain,
then ~/.config/nixseal/identity.txt. Over a plain SSH login there is no D-Bus session, so no
keychain: export the key where the keychain is (your desktop session) and import it where
you need it, or pass --identity. See docs/identities.md.`,
    );

  identity
    .command("where")
    .description("say where your admin identity is, its public key, and whether it is an admin of this repo")
    .option("-i, --identity <file>", "look at this identity file instead")
    .option("--json", "machine-readable output")
    .action(async (opts: { identity?: string; json?: boolean }) => {
      const { io } = ctx;
      const found = await describeIdentity(io, opts.identity);
      const admin = await adminName(io.cwd, found.publicKey);
      if (opts.json) {
        printJson(io, { ...found, inRepo: admin.inRepo, admin: admin.name ?? null });
      } else {
        io.stdout.write(`identity: ${found.source ?? "none found"}\n`);
        if (found.publicKey) io.stdout.write(`public key: ${found.publicKey}\n`);
        io.stdout.write(`OS keychain: ${found.keychain}\n`);
        if (admin.inRepo) io.stdout.write(`admin of this repo: ${admin.name ? `yes, "${admin.name}"` : "no"}\n`);
      }
      if (!found.source) {
        throw new NixsealError("NIXSEAL_ERR_NO_IDENTITY", "no admin identity found", {
          hints: ["make one: nixseal identity new (then an admin runs nixseal admin add NAME --key <its public key>)", "or bring yours: nixseal identity import FILE"],
        });
      }
    });

  identity
    .command("export")
    .description("write your admin identity (the private key) to a file, e.g. to carry it into an SSH session")
    .option("-o, --out <file>", "the file to write (created 0600; never overwritten); default stdout, not a terminal")
    .option("-i, --identity <file>", "export this identity file instead")
    .addHelpText(
      "after",
      `
The file holds your private key: it opens every secret of every repo you administer. Move it
over an encrypted channel, import it, then delete it.

Examples:
  nixseal identity export --out ~/nixseal-identity.txt      # on the desktop, inside its session
  nixseal identity export | ssh ops@bastion 'nixseal identity import -'`,
    )
    .action(async (opts: { out?: string; identity?: string }) => {
      const { io } = ctx;
      const r = await exportIdentity(io, { out: opts.out, flag: opts.identity });
      printInfo(io, `exported the identity from ${r.source}${r.out ? ` to ${r.out} (mode 0600)` : ""} (public key ${r.publicKey})`);
    });

  identity
    .command("import")
    .description("store an age identity as your admin identity: in the OS keychain when reachable, else the identity file")
    .argument("[file]", "the identity file (AGE-SECRET-KEY-1…); - or nothing for stdin")
    .option("--to <place>", "keychain or file (default: the keychain when reachable)")
    .action(async (file: string | undefined, opts: { to?: string }) => {
      const { io } = ctx;
      const r = await importIdentity(io, file === undefined || file === "-" ? undefined : file, target(opts.to));
      if (r.unchanged) printInfo(io, `that identity is already stored in ${r.storedIn}; nothing changed`);
      else printInfo(io, `stored the identity in ${r.storedIn}${r.why ? ` (${r.why})` : ""}`);
      printInfo(io, `public key: ${r.publicKey}`);
    });

  identity
    .command("new")
    .description("create an admin identity for yourself (age X25519), when you have none")
    .option("--to <place>", "keychain or file (default: the keychain when reachable)")
    .addHelpText(
      "after",
      `
To join a repo: run this, send the public key it prints to an admin, who runs
"nixseal admin add YOUR-NAME --key age1…".`,
    )
    .action(async (opts: { to?: string }) => {
      const { io } = ctx;
      const r = await newIdentity(io, target(opts.to));
      printInfo(io, `created an admin identity in ${r.storedIn}${r.why ? ` (${r.why})` : ""}`);
      io.stdout.write(`${r.publicKey}\n`);
      printInfo(io, `next: an admin of the repo runs: nixseal admin add NAME --key ${r.publicKey}`);
    });
}

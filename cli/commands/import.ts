import type { Command } from "commander";
import { importAgenix } from "../import/agenix/run.js";
import { importNixops } from "../import/nixops/run.js";
import type { CommandContext } from "./context.js";
import { usageError } from "../errors.js";

/** Repeatable KEY=VALUE options into a map; a repeated key is an error. */
function pairs(option: string): (value: string, previous?: Map<string, string>) => Map<string, string> {
  return (value, previous = new Map()) => {
    const i = value.indexOf("=");
    if (i <= 0) {
      throw usageError(`${option} wants NAME=VALUE, not ${JSON.stringify(value)}`, [`e.g. ${option} web-1=web1`]);
    }
    const key = value.slice(0, i);
    if (previous.has(key)) throw usageError(`${option} ${key}=… given twice`);
    return new Map(previous).set(key, value.slice(i + 1));
  };
}

/** `nixseal import nixops|agenix`. */
export function registerImport(program: Command, ctx: CommandContext): void {
  const imp = program.command("import").description("bring hosts and secrets over from NixOps or agenix");

  imp
    .command("nixops")
    .description("import a NixOps deployment's machines and stored deployment.keys")
    .argument("<state>", "NixOps' state file (deployments.nixops); read through a private copy, never opened itself")
    .option("-d, --deployment <name|uuid>", "which deployment, when the file holds several")
    .option("--scan", "read the host key of each machine NixOps recorded none for over SSH (asks you to confirm)")
    .option("-y, --yes", "with --scan: accept the scanned keys without asking")
    .option("--host-key <name=line>", "the SSH host key of a host (repeatable)", pairs("--host-key"))
    .option("--rename <old=new>", "a machine (MACHINE=HOST) or key (MACHINE:KEY=NAME) under another name (repeatable)", pairs("--rename"))
    .option("--allow-world-readable", "import keys whose permissions give others access")
    .option("--dry-run", "show what would be created and change nothing")
    .addHelpText(
      "after",
      `
Each machine becomes a host (targetHost, targetUser, targetPort), pinned to the SSH
host key its backend recorded (ec2, gce, azure, virtualbox, container); for the
others (the "none" backend records none) give --scan or --host-key. Each
deployment.keys entry NixOps stored with its text becomes a secret with the same
user, group, permissions and destDir, encrypted to its hosts and the admins;
keyFile and keyCommand keys are listed, not imported. Values are never printed.
Run "nixseal init" first.

Examples:
  cp ~/.nixops/deployments.nixops /tmp/state.nixops   # optional: the importer copies it anyway
  nixseal import nixops ~/.nixops/deployments.nixops --dry-run
  nixseal import nixops ~/.nixops/deployments.nixops -d prod --scan`,
    )
    .action(async (state: string, opts: { deployment?: string; scan?: boolean; yes?: boolean; hostKey?: Map<string, string>; rename?: Map<string, string>; allowWorldReadable?: boolean; dryRun?: boolean }) => {
      await importNixops(ctx.io, state, {
        deployment: opts.deployment,
        scan: opts.scan,
        yes: opts.yes,
        hostKeys: opts.hostKey ?? new Map(),
        renames: opts.rename ?? new Map(),
        allowWorldReadable: opts.allowWorldReadable,
        dryRun: opts.dryRun,
      });
    });

  imp
    .command("agenix")
    .description("import an agenix repo: secrets.nix and its .age files, kept byte for byte")
    .argument("<dir>", "the directory of secrets.nix")
    .option("--map <file>", 'which key is which host or admin: { "hosts": { NAME: { "key", "target" } }, "admins": { NAME: KEY } }')
    .option("--age-secrets <host=file>", "owner, group, mode and path from a host's exported age.secrets (repeatable)", pairs("--age-secrets"))
    .option("--rename <old=new>", "import OLD.age as secret NEW (repeatable)", pairs("--rename"))
    .option("--allow-world-readable", "accept modes that give others access")
    .option("--dry-run", "show what would be created and change nothing")
    .addHelpText(
      "after",
      `
secrets.nix is read with nix-instantiate --eval --strict --json. Each public key
in it must be a host (it becomes one, with its SSH target) or an admin: from --map,
or asked on the terminal. Each .age file becomes the secret of its file name, for
the hosts among its keys, and is copied as it is: nothing is decrypted and no admin
key is needed. Files whose recipients differ from what nixseal would use (their
hosts plus every admin) are listed for "nixseal secrets rekey". Without
--age-secrets a secret gets owner root, group root, mode 0400; with it, the owner,
group, mode and path (e.g. /run/agenix/NAME, as a link) the host's config gave it.
Imports into the repo at or above the current directory, or creates one here.

Examples:
  nixseal import agenix ./secrets --map keys.json --dry-run
  nix eval --json .#nixosConfigurations.web1.config.age.secrets > web1-age.json
  nixseal import agenix ./secrets --map keys.json --age-secrets web1=web1-age.json`,
    )
    .action(async (dir: string, opts: { map?: string; ageSecrets?: Map<string, string>; rename?: Map<string, string>; allowWorldReadable?: boolean; dryRun?: boolean }) => {
      await importAgenix(ctx.io, dir, {
        map: opts.map,
        ageSecrets: opts.ageSecrets ?? new Map(),
        renames: opts.rename ?? new Map(),
        allowWorldReadable: opts.allowWorldReadable,
        dryRun: opts.dryRun,
      });
    });
}

import type { Command } from "commander";
import { NixsealError } from "../../core/index.js";
import { importNixops } from "../import/nixops/run.js";
import type { CommandContext } from "./index.js";

/** Repeatable KEY=VALUE options into a map; a repeated key is an error. */
function pairs(option: string): (value: string, previous?: Map<string, string>) => Map<string, string> {
  return (value, previous = new Map()) => {
    const i = value.indexOf("=");
    if (i <= 0) {
      throw new NixsealError("NIXSEAL_ERR_USAGE", `${option} wants NAME=VALUE, not ${JSON.stringify(value)}`, { hints: [`e.g. ${option} web-1=web1`], exitCode: 2 });
    }
    const key = value.slice(0, i);
    if (previous.has(key)) throw new NixsealError("NIXSEAL_ERR_USAGE", `${option} ${key}=… given twice`, { exitCode: 2 });
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
}

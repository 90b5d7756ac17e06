import type { Command } from "commander";
import type { RunOptions } from "../deploy/hosts.js";
import type { CommandContext } from "./context.js";
import { usageError } from "../errors.js";

/** Parses a non-negative integer option. */
export function intOption(name: string, min: number): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v) || Number(v) < min) {
      throw usageError(`${name} wants a whole number >= ${min}, not "${v}"`);
    }
    return Number(v);
  };
}

/** The options every multi-host command (deploy, rollback, status) passes on. */
export function runOptions(hosts: string[], o: { parallel: number; json?: boolean; sshKey?: string; wait?: number; on?: string[] }): RunOptions {
  return { hosts: [...hosts, ...(o.on ?? [])], parallel: o.parallel, json: Boolean(o.json), sshKey: o.sshKey, waitSeconds: o.wait ?? 0 };
}

/** Accumulates a repeatable option: --on a --on b. */
export const repeatable = (value: string, previous: string[] = []): string[] => [...previous, value];

/** What HOST… operands and --on accept, for every multi-host command's --help. */
export function selectionHelp(noneMeansAll: boolean): string {
  return `
Hosts: names, @TAG for every host with that tag (nixseal host set NAME --tag TAG),
or a glob such as 'web-*'; several separated by spaces or commas; --on takes the
same.${noneMeansAll ? " None given: every host." : ""}`;
}

/** `nixseal deploy [HOST…]`: config and secrets to each host, together, with rollback. */
export function registerDeploy(program: Command, ctx: CommandContext): void {
  program
    .command("deploy")
    .description("ship each host's config (to /etc/nixos) and its encrypted secrets, rebuild on the host, roll both back on failure")
    .argument("[hosts...]", "hosts to deploy: names, @tags, globs (default: all)")
    .option("--on <hosts>", "hosts to deploy, as for the operands (repeatable)", repeatable)
    .option("-j, --parallel <n>", "hosts at once", intOption("--parallel", 1), 8)
    .option("--dry-run", "check everything a deploy checks (agent, owners, units, config) and show what would change; change nothing")
    .option("--secrets-only", "ship and activate secrets only; no config, no rebuild")
    .option("--config-only", "ship the config and rebuild; leave secrets as they are")
    .option("--upgrade", "pass --upgrade to the rebuild (the host updates its own channels)")
    .option("--wait <seconds>", "wait this long for another deploy's lock on a host; 0 refuses at once", intOption("--wait", 0), 0)
    .option("--ssh-key <file>", "private key to log in with (default: ssh-agent, then ~/.ssh/id_ed25519, id_rsa)")
    .option("--json", "print a JSON summary on stdout instead of progress")
    .addHelpText(
      "after",
      `
Per host: connect (host key pinned to nixseal.json) -> lock -> upload -> agent stages the
bundle -> install /etc/nixos -> activate secrets (restart/reload the units of changed
secrets) -> rebuild; any failure puts back the previous config and secrets. Exit 1 if any
host failed. --dry-run goes as far as the agent's check of the uploaded bundle and reports
every problem at once; it exits 1 when the deploy would fail. See docs/deploy.md.
${selectionHelp(true)}

Examples:
  nixseal deploy                       # every host
  nixseal deploy web1 db1 --dry-run    # what would change, and whether it would work
  nixseal deploy @web --secrets-only   # the hosts tagged web, secrets only
  nixseal deploy --on 'web-*' --json   # a JSON summary per host, restarts included`,
    )
    .action(async (hosts: string[], o: { on?: string[]; parallel: number; dryRun?: boolean; secretsOnly?: boolean; configOnly?: boolean; upgrade?: boolean; wait: number; sshKey?: string; json?: boolean }) => {
      // The deploy code (ssh, listr2) loads only when this command runs.
      const { runDeploy } = await import("../deploy/deploy-run.js");
      ctx.exitCode = await runDeploy(ctx.io, {
        ...runOptions(hosts, o),
        dryRun: Boolean(o.dryRun),
        secretsOnly: Boolean(o.secretsOnly),
        configOnly: Boolean(o.configOnly),
        upgrade: Boolean(o.upgrade),
      });
    });
}

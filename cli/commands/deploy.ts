import type { Command } from "commander";
import { NixsealError } from "../../core/index.js";
import type { RunOptions } from "../deploy/hosts.js";
import type { CommandContext } from "./context.js";

/** Parses a non-negative integer option. */
export function intOption(name: string, min: number): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v) || Number(v) < min) {
      throw new NixsealError("NIXSEAL_ERR_USAGE", `${name} wants a whole number >= ${min}, not "${v}"`);
    }
    return Number(v);
  };
}

/** The options every multi-host command (deploy, rollback, status) passes on. */
export function runOptions(hosts: string[], o: { parallel: number; json?: boolean; sshKey?: string; wait?: number }): RunOptions {
  return { hosts, parallel: o.parallel, json: Boolean(o.json), sshKey: o.sshKey, waitSeconds: o.wait ?? 0 };
}

/** `nixseal deploy [HOST…]`: config and secrets to each host, together, with rollback. */
export function registerDeploy(program: Command, ctx: CommandContext): void {
  program
    .command("deploy")
    .description("ship each host's config (to /etc/nixos) and its encrypted secrets, rebuild on the host, roll both back on failure")
    .argument("[hosts...]", "hosts to deploy (default: all)")
    .option("-j, --parallel <n>", "hosts at once", intOption("--parallel", 1), 8)
    .option("--dry-run", "show what would change (files, secrets, versions) and change nothing")
    .option("--secrets-only", "ship and activate secrets only; no config, no rebuild")
    .option("--config-only", "ship the config and rebuild; leave secrets as they are")
    .option("--upgrade", "pass --upgrade to the rebuild (the host updates its own channels)")
    .option("--wait <seconds>", "wait this long for another deploy's lock on a host; 0 refuses at once", intOption("--wait", 0), 0)
    .option("--ssh-key <file>", "private key to log in with (default: ssh-agent, then ~/.ssh/id_ed25519, id_rsa)")
    .option("--json", "print a JSON summary on stdout instead of progress")
    .addHelpText(
      "after",
      "\nPer host: connect (host key pinned to nixseal.json) -> lock -> upload -> agent stages the bundle\n" +
        "-> install /etc/nixos -> activate secrets -> rebuild; any failure puts back the previous\n" +
        "config and secrets. Exit 1 if any host failed. See docs/deploy.md.",
    )
    .action(async (hosts: string[], o: { parallel: number; dryRun?: boolean; secretsOnly?: boolean; configOnly?: boolean; upgrade?: boolean; wait: number; sshKey?: string; json?: boolean }) => {
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

import type { Command } from "commander";
import { intOption } from "./deploy.js";
import type { CommandContext } from "./index.js";

/** `nixseal status [HOST…]`: what each host runs against the repo. */
export function registerStatus(program: Command, ctx: CommandContext): void {
  program
    .command("status")
    .description("compare each host with the repo: agent health, secret versions, missing secrets, /etc/nixos drift")
    .argument("[hosts...]", "hosts to check (default: all)")
    .option("-j, --parallel <n>", "hosts at once", intOption("--parallel", 1), 8)
    .option("--ssh-key <file>", "private key to log in with")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExit 0 when every host matches the repo, 1 when any drifts or cannot be reached.")
    .action(async (hosts: string[], o: { parallel: number; sshKey?: string; json?: boolean }) => {
      // The deploy code (ssh, listr2) loads only when this command runs.
      const { runStatus } = await import("../deploy/status-run.js");
      ctx.exitCode = await runStatus(ctx.io, { hosts, parallel: o.parallel, json: Boolean(o.json), sshKey: o.sshKey, waitSeconds: 0 });
    });
}

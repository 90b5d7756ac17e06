import type { Command } from "commander";
import { intOption, runOptions } from "./deploy.js";
import type { CommandContext } from "./context.js";

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
      const { runStatus } = await import("../deploy/status-run.js"); // ssh and listr2 load only now
      ctx.exitCode = await runStatus(ctx.io, runOptions(hosts, o));
    });
}

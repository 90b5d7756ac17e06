import type { Command } from "commander";
import { intOption, repeatable, runOptions, selectionHelp } from "./deploy.js";
import type { CommandContext } from "./context.js";

/** `nixseal status [HOST…]`: what each host runs against the repo. */
export function registerStatus(program: Command, ctx: CommandContext): void {
  program
    .command("status")
    .description("compare each host with the repo: agent health, secret versions, missing secrets, /etc/nixos drift")
    .argument("[hosts...]", "hosts to check: names, @tags, globs (default: all)")
    .option("--on <hosts>", "hosts to check, as for the operands (repeatable)", repeatable)
    .option("-j, --parallel <n>", "hosts at once", intOption("--parallel", 1), 8)
    .option("--ssh-key <file>", "private key to log in with")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      `
Exit 0 when every host matches the repo, 1 when any drifts or cannot be reached.
${selectionHelp(true)}

Examples:
  nixseal status                  # every host
  nixseal status web1 --json      # one host, machine-readable
  nixseal status @db              # the hosts tagged db`,
    )
    .action(async (hosts: string[], o: { on?: string[]; parallel: number; sshKey?: string; json?: boolean }) => {
      const { runStatus } = await import("../deploy/status-run.js"); // ssh and listr2 load only now
      ctx.exitCode = await runStatus(ctx.io, runOptions(hosts, o));
    });
}

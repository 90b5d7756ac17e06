import type { Command } from "commander";
import { intOption, repeatable, runOptions, selectionHelp } from "./deploy.js";
import type { CommandContext } from "./context.js";

/** `nixseal rollback HOST…`: previous config and previous secrets generation. */
export function registerRollback(program: Command, ctx: CommandContext): void {
  program
    .command("rollback")
    .description("put a host back on its previous config (/etc/nixos, then rebuild) and previous secrets generation")
    .argument("[hosts...]", "hosts to roll back: names, @tags, globs")
    .option("--on <hosts>", "hosts to roll back, as for the operands (repeatable)", repeatable)
    .option("-j, --parallel <n>", "hosts at once", intOption("--parallel", 1), 8)
    .option("--secrets-only", "roll back secrets only")
    .option("--config-only", "roll back the config only")
    .option("--wait <seconds>", "wait this long for a running deploy's lock", intOption("--wait", 0), 0)
    .option("--ssh-key <file>", "private key to log in with")
    .option("--json", "print a JSON summary on stdout")
    .addHelpText(
      "after",
      `
A second rollback undoes the first (previous and current trade places). Name the hosts:
rollback never picks all of them by default.
${selectionHelp(false)}

Examples:
  nixseal rollback web1                  # previous config and previous secrets
  nixseal rollback web1 --secrets-only   # previous secrets generation only
  nixseal rollback @web --json`,
    )
    .action(async (hosts: string[], o: { on?: string[]; parallel: number; secretsOnly?: boolean; configOnly?: boolean; wait: number; sshKey?: string; json?: boolean }) => {
      const { runRollback } = await import("../deploy/rollback-run.js"); // ssh and listr2 load only now
      ctx.exitCode = await runRollback(ctx.io, {
        ...runOptions(hosts, o),
        secretsOnly: Boolean(o.secretsOnly),
        configOnly: Boolean(o.configOnly),
      });
    });
}

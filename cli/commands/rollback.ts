import type { Command } from "commander";
import { intOption } from "./deploy.js";
import type { CommandContext } from "./index.js";

/** `nixseal rollback HOST…`: previous config and previous secrets generation. */
export function registerRollback(program: Command, ctx: CommandContext): void {
  program
    .command("rollback")
    .description("put a host back on its previous config (/etc/nixos, then rebuild) and previous secrets generation")
    .argument("<hosts...>", "hosts to roll back")
    .option("-j, --parallel <n>", "hosts at once", intOption("--parallel", 1), 8)
    .option("--secrets-only", "roll back secrets only")
    .option("--config-only", "roll back the config only")
    .option("--wait <seconds>", "wait this long for a running deploy's lock", intOption("--wait", 0), 0)
    .option("--ssh-key <file>", "private key to log in with")
    .option("--json", "print a JSON summary on stdout")
    .addHelpText("after", "\nA second rollback undoes the first (previous and current trade places).")
    .action(async (hosts: string[], o: { parallel: number; secretsOnly?: boolean; configOnly?: boolean; wait: number; sshKey?: string; json?: boolean }) => {
      // The deploy code (ssh, listr2) loads only when this command runs.
      const { runRollback } = await import("../deploy/rollback-run.js");
      ctx.exitCode = await runRollback(ctx.io, {
        hosts,
        parallel: o.parallel,
        json: Boolean(o.json),
        sshKey: o.sshKey,
        waitSeconds: o.wait,
        secretsOnly: Boolean(o.secretsOnly),
        configOnly: Boolean(o.configOnly),
      });
    });
}

import type { Command } from "commander";
import { usageError } from "../errors.js";
import type { CommandContext } from "./context.js";

/** `nixseal verify HOST`. */
export function registerVerify(program: Command, ctx: CommandContext): void {
  program
    .command("verify")
    .description("reboot a host and prove that every secret came back before the units that use it")
    .argument("<host>", "host name")
    .option("-y, --yes", "reboot without asking")
    .option("--no-reboot", "check the running host instead")
    .option("--timeout <seconds>", "how long to wait for the host to come back", "300")
    .option("--ssh-key <file>", "SSH private key to log in with")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      `
Reboots the host (after asking; --yes in scripts), waits until it answers with a new
boot id and systemd has finished booting, then runs "nixseal-agent verify" there:
every secret of the host's current generation must be live with its owner, group,
mode and content (checked on the host against the decrypted ciphertext), /run/keys
must lead to it, and every unit it restarts or reloads must have begun starting
after this boot's restore finished. Prints how long the restore took. No deploy is
involved. Exit 1 naming every secret or unit that failed.

Examples:
  nixseal verify web1
  nixseal verify web1 --yes --json
  nixseal verify web1 --no-reboot`,
    )
    .action(async (host: string, opts: { yes?: boolean; reboot: boolean; timeout: string; sshKey?: string; json?: boolean }) => {
      const timeout = Number(opts.timeout);
      if (!Number.isInteger(timeout) || timeout < 1) throw usageError(`--timeout wants whole seconds, not "${opts.timeout}"`);
      const { runVerify } = await import("../verify/run.js"); // ssh loads only now
      ctx.exitCode = await runVerify(ctx.io, host, { yes: opts.yes, noReboot: !opts.reboot, timeout, sshKey: opts.sshKey, json: opts.json });
    });
}

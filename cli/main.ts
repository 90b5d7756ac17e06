import { Command, CommanderError } from "commander";
import type { CommandContext } from "./commands/context.js";
import { commands } from "./commands/index.js";
import type { CliIo } from "./io.js";
import { printError } from "./output.js";
import { nixsealVersion } from "../core/version.js";
import { codeTag } from "../core/print-error.js";

/**
 * The whole command table: every command, argument and option with its help. main()
 * runs it; the shell completions and the man page are generated from it (cli/completion/).
 */
export function buildProgram(ctx: CommandContext): Command {
  const { io } = ctx;
  const program = new Command("nixseal")
    .description("secrets for NixOS and systemd hosts, encrypted to their SSH host keys")
    .version(nixsealVersion(), "-V, --version")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // commander's own usage errors print as ours do: the code ends the first line.
      outputError: (s, write) => {
        const [first, ...rest] = s.replace(/^error: /, "").split("\n");
        write([`nixseal: error: ${first} ${codeTag("NIXSEAL_ERR_USAGE")}`, ...rest].join("\n"));
      },
    })
    .showHelpAfterError("(run with --help for usage)");
  for (const register of commands) register(program, ctx);
  return program;
}

/**
 * Runs the nixseal CLI in-process.
 *
 * @param argv - arguments after the program name
 * @param io - streams, env and cwd
 * @returns the process exit code
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const ctx: CommandContext = { io, exitCode: 0 };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    return printError(io, err);
  }
}

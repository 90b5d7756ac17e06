import type { Command } from "commander";
import type { CliIo } from "../io.js";

/**
 * What every command's action gets. Actions throw NixsealError; main() is the only
 * place that catches and prints. An action sets exitCode when it wants a non-zero
 * exit without an error.
 */
export interface CommandContext {
  io: CliIo;
  exitCode: number;
}

/** A subcommand module registers itself on the program. */
export type RegisterCommand = (program: Command, ctx: CommandContext) => void;

import type { Command } from "commander";
import type { CliIo } from "../io.js";
import { registerAge } from "./age.js";
import { registerBundle } from "./bundle.js";
import { registerDeploy } from "./deploy.js";
import { registerHost } from "./host.js";
import { registerInit } from "./init.js";
import { registerPush } from "./push.js";
import { registerRollback } from "./rollback.js";
import { registerSecrets } from "./secrets.js";
import { registerStatus } from "./status.js";

/**
 * A subcommand module registers itself on the program. Actions throw
 * NixsealError; main() is the only place that catches and prints.
 * Each action sets ctx.exitCode when it wants a non-zero exit without an error.
 */
export interface CommandContext {
  io: CliIo;
  exitCode: number;
}
export type RegisterCommand = (program: Command, ctx: CommandContext) => void;

// One line per command module; keep sorted.
export const commands: RegisterCommand[] = [
  registerAge,
  registerBundle,
  registerDeploy,
  registerHost,
  registerInit,
  registerPush,
  registerRollback,
  registerSecrets,
  registerStatus,
];

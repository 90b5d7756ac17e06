// The zod schema of /etc/nixseal/agent.json. Loaded only when that file exists: zod
// costs ~50 ms of CPU at start, and the boot restore on a host without the file
// (the common case) does not pay it.
import { z } from "zod";
import { absolutePath } from "../../core/schema/names.js";
import { CONFIG_DEFAULTS } from "./defaults.js";

export const agentConfigSchema = z.strictObject({
  identityPaths: z.array(absolutePath).min(1).default(CONFIG_DEFAULTS.identityPaths),
  stateDir: absolutePath.default(CONFIG_DEFAULTS.stateDir),
  runDir: absolutePath.default(CONFIG_DEFAULTS.runDir),
  keysDir: absolutePath.default(CONFIG_DEFAULTS.keysDir),
  keepGenerations: z.number().int().min(1).max(1000).default(CONFIG_DEFAULTS.keepGenerations),
  socket: absolutePath.default(CONFIG_DEFAULTS.socket),
  /** Seconds without a connection before a socket-activated agent exits (0: it stays up). */
  idleExitSeconds: z.number().int().min(0).max(86400).default(CONFIG_DEFAULTS.idleExitSeconds),
  /** Extra directories the sandboxed units may write (where Secret.path links go). */
  readWritePaths: z.array(absolutePath).default(CONFIG_DEFAULTS.readWritePaths),
  /** Where neededForUsers secrets are written, root-only (users' password files). */
  forUsersDir: absolutePath.default(CONFIG_DEFAULTS.forUsersDir),
  /** The secrets file of the running system (NixOS); the agent checks bundles against it when present. */
  systemSecrets: absolutePath.default(CONFIG_DEFAULTS.systemSecrets),
  /** Run systemctl for the units a changed secret names (off in tests without systemd). */
  restartUnits: z.boolean().default(CONFIG_DEFAULTS.restartUnits),
  /** Require runDir to be a tmpfs or ramfs mount (off only where nothing can be mounted). */
  requireMemoryFs: z.boolean().default(CONFIG_DEFAULTS.requireMemoryFs),
  /** Accept a tmpfs without noswap for runDir (a kernel before 6.4 has no noswap: prefer ramfs). */
  allowSwappableTmpfs: z.boolean().default(CONFIG_DEFAULTS.allowSwappableTmpfs),
});

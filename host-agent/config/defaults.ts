// The agent's settings and their defaults: the on-host layout of core/on-host.ts, which
// deploy, the NixOS module and units.json agree on. No zod here: the boot restore reads these on every
// host, and the schema (schema.ts) loads only when /etc/nixseal/agent.json exists.
import { HOST_KEY_PATHS, HOST_PATHS } from "../../core/on-host.js";
import { managedHostPaths } from "../../core/schema/secret-path.js";

/** Where the agent looks for its settings unless --config says otherwise. */
export const DEFAULT_CONFIG_PATH = HOST_PATHS.config;

export interface AgentConfig {
  identityPaths: string[];
  stateDir: string;
  runDir: string;
  keysDir: string;
  keepGenerations: number;
  socket: string;
  /** Socket-activated `serve` exits after this many seconds with no connection (0: stays up). */
  idleExitSeconds: number;
  readWritePaths: string[];
  /** Where neededForUsers secrets are written (root-only), for users' password files. */
  forUsersDir: string;
  /** What the running system was built for (NixOS: the generated file); absent on plain hosts. */
  systemSecrets: string;
  restartUnits: boolean;
  requireMemoryFs: boolean;
  /** Accept a tmpfs mounted without noswap for runDir (plaintext could reach swap). */
  allowSwappableTmpfs: boolean;
}

export const CONFIG_DEFAULTS: Readonly<AgentConfig> = Object.freeze({
  identityPaths: [...HOST_KEY_PATHS],
  stateDir: HOST_PATHS.stateDir,
  runDir: HOST_PATHS.runDir,
  keysDir: HOST_PATHS.keysDir,
  keepGenerations: 5,
  socket: HOST_PATHS.socket,
  idleExitSeconds: 10,
  readWritePaths: [],
  forUsersDir: HOST_PATHS.forUsersDir,
  systemSecrets: HOST_PATHS.systemSecrets,
  restartUnits: true,
  requireMemoryFs: true,
  allowSwappableTmpfs: false,
});

/** A fresh copy of the defaults. */
export function defaultConfig(): AgentConfig {
  return { ...CONFIG_DEFAULTS, identityPaths: [...CONFIG_DEFAULTS.identityPaths], readWritePaths: [] };
}

/**
 * Everything the agent owns or reads on the host, which no secret's `path` may equal,
 * lie inside or contain: its state, run, keys and socket directories, its config
 * directory and its host keys.
 */
export function managedPaths(config: AgentConfig): string[] {
  return managedHostPaths({ ...config, config: DEFAULT_CONFIG_PATH });
}

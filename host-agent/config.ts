import { z } from "zod";
import { absolutePath, NixsealError, readJsonFile } from "../core/index.js";

/** Where the agent looks for its settings unless --config says otherwise. */
export const DEFAULT_CONFIG_PATH = "/etc/nixseal/agent.json";

/**
 * /etc/nixseal/agent.json: every key optional. The defaults are the on-host
 * layout that deploy, the NixOS module and units.json agree on; tests point
 * the dirs into temp directories.
 */
export const agentConfigSchema = z.strictObject({
  identityPaths: z.array(absolutePath).min(1).default(["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]),
  stateDir: absolutePath.default("/var/lib/nixseal"),
  runDir: absolutePath.default("/run/nixseal"),
  keysDir: absolutePath.default("/run/keys"),
  keepGenerations: z.number().int().min(1).max(1000).default(5),
  socket: absolutePath.default("/run/nixseal-agent/agent.sock"),
  /** Extra directories the sandboxed units may write (where Secret.path links go). */
  readWritePaths: z.array(absolutePath).default([]),
  /** Run systemctl for the units a changed secret names (off in tests without systemd). */
  restartUnits: z.boolean().default(true),
  /** Require runDir to be a tmpfs or ramfs mount (off only for tests that cannot mount). */
  requireMemoryFs: z.boolean().default(true),
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;

/**
 * Loads the agent config; a missing file at the default path means all defaults.
 *
 * @param file - explicit path (must exist) or undefined for the default path
 * @throws NixsealError NIXSEAL_ERR_INVALID_FILE for bad JSON or a bad key
 */
export async function loadConfig(file?: string): Promise<AgentConfig> {
  try {
    return await readJsonFile(agentConfigSchema, file ?? DEFAULT_CONFIG_PATH);
  } catch (err) {
    if (file === undefined && err instanceof NixsealError && err.code === "NIXSEAL_ERR_NOT_FOUND") {
      return agentConfigSchema.parse({});
    }
    throw err;
  }
}

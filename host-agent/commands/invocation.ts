// One command's parsed arguments, and the agent config they make: the config file, the
// path overrides, or (--root) the config of an offline image with every path inside it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG_PATH, defaultConfig, type AgentConfig } from "../config/defaults.js";
import { loadConfig } from "../config/load.js";
import type { OptionValues } from "./options.js";

export interface Invocation {
  /** The operands, as many as the command names. */
  operands: string[];
  values: OptionValues;
}

/** --state-dir, --run-dir, --keys-dir, --identity: override the config file. */
function overrides(v: OptionValues): Partial<AgentConfig> {
  return {
    ...(v.stateDir ? { stateDir: v.stateDir } : {}),
    ...(v.runDir ? { runDir: v.runDir } : {}),
    ...(v.keysDir ? { keysDir: v.keysDir } : {}),
    ...(v.identity ? { identityPaths: v.identity } : {}),
  };
}

/** The config of an offline image at root: its agent.json, every path inside it. */
async function imageConfig(v: OptionValues, root: string): Promise<AgentConfig> {
  const inside = join(root, v.config ?? DEFAULT_CONFIG_PATH);
  const base = existsSync(inside) ? await loadConfig(inside) : defaultConfig();
  return {
    ...base,
    identityPaths: base.identityPaths.map((p) => join(root, p)),
    stateDir: join(root, base.stateDir),
    ...overrides(v),
  };
}

/** The agent config this invocation runs with. */
export function invocationConfig(inv: Invocation): Promise<AgentConfig> {
  return inv.values.root ? imageConfig(inv.values, inv.values.root) : loadConfig(inv.values.config, overrides(inv.values));
}

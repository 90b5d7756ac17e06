// Loads the agent's settings: the defaults (defaults.ts), /etc/nixseal/agent.json when
// present (zod-validated), then command-line overrides (image baking: import into a
// mounted image's /var/lib).
import { readFileSync } from "node:fs";
import { NixsealError } from "../../core/errors.js";
import { DEFAULT_CONFIG_PATH, defaultConfig, type AgentConfig } from "./defaults.js";

/** Validates a config object with the zod schema (loaded on demand). */
export async function parseConfig(text: string, file: string): Promise<AgentConfig> {
  const [{ agentConfigSchema }, { parseJsonText, validate }] = await Promise.all([import("./schema.js"), import("../../core/schema/parse.js")]);
  return validate(agentConfigSchema, parseJsonText(text, file), file);
}

/**
 * Loads the agent config. A missing file at the default path means all defaults; an
 * explicit other path must exist.
 *
 * @param file - config path (default /etc/nixseal/agent.json)
 * @param overrides - command-line settings, applied last
 * @throws NixsealError NIXSEAL_ERR_INVALID_FILE for bad JSON or a bad key, NIXSEAL_ERR_NOT_FOUND
 */
export async function loadConfig(file: string = DEFAULT_CONFIG_PATH, overrides: Partial<AgentConfig> = {}): Promise<AgentConfig> {
  let text: string | undefined;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") throw new NixsealError("NIXSEAL_ERR_IO", `cannot read ${file}: ${code ?? "error"}`, { cause: err });
    if (file !== DEFAULT_CONFIG_PATH) {
      throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `${file}: no such file`, { hints: [`create it (see docs/agent.md) or leave out --config to use ${DEFAULT_CONFIG_PATH}`] });
    }
  }
  const base = text === undefined ? defaultConfig() : await parseConfig(text, file);
  return { ...base, ...overrides };
}

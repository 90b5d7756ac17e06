// Loads the agent's settings: the defaults (defaults.ts), /etc/nixseal/agent.json when
// present (zod-validated), then command-line overrides (image baking: import into a
// mounted image's /var/lib).
//
// zod costs a fresh process ~20-60 ms, and on NixOS agent.json always exists: every boot
// restore and every start of the socket-activated API would pay it. So once a file has
// validated, its sha256 goes to stateDir/.agent-json.sha256 (root-only, like the
// manifest seal of a stored generation), and the same bytes are later taken as they are
// (JSON, the defaults filled in: what the schema returns for a valid file). Any other
// bytes, or another version of the agent (whose schema may differ), go through the
// schema again.
import { hash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { NixsealError } from "../../core/errors.js";
import { packageJsonFile } from "../own-files.js";
import { DEFAULT_CONFIG_PATH, defaultConfig, type AgentConfig } from "./defaults.js";

/** The seal of the last agent.json that validated, in its stateDir. */
export const CONFIG_SEAL = ".agent-json.sha256";

/** The config these bytes give, if they are the bytes the schema last accepted. */
function sealed(text: string, sum: string): AgentConfig | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const config = { ...defaultConfig(), ...parsed } as AgentConfig;
  try {
    return readFileSync(`${config.stateDir}/${CONFIG_SEAL}`, "utf8").trim() === sum ? config : undefined;
  } catch {
    return undefined;
  }
}

/** Records the seal (best effort: a missing or read-only state dir only costs the next start the schema). */
function seal(stateDir: string, sum: string): void {
  const tmp = `${stateDir}/${CONFIG_SEAL}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, sum + "\n", { mode: 0o600, flag: "wx" });
    renameSync(tmp, `${stateDir}/${CONFIG_SEAL}`);
  } catch {
    // the next start validates again
  }
}

/** Validates a config file's text: with the zod schema (loaded on demand) unless it is sealed. */
async function parseConfig(text: string, file: string): Promise<AgentConfig> {
  let version = "";
  try {
    version = (JSON.parse(readFileSync(packageJsonFile(), "utf8")) as { version?: string }).version ?? "";
  } catch {
    // no package.json beside the code: the seal is then keyed on the text alone
  }
  const sum = hash("sha256", `${version}\n${text}`, "hex");
  const known = sealed(text, sum);
  if (known) return known;
  const [{ agentConfigSchema }, { parseJsonText, validate }] = await Promise.all([import("./schema.js"), import("../../core/schema/parse.js")]);
  const config = validate(agentConfigSchema, parseJsonText(text, file), file);
  seal(config.stateDir, sum);
  return config;
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

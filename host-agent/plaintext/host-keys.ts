// The host's SSH private keys as age identities. A missing key file of the default list
// is skipped quietly (many hosts have no RSA key); any other file that yields no
// identity (missing when named explicitly, empty, unreadable, not a key) is a warning
// that names it, while the others are used.
import type { Identity } from "../../core/age/decrypt.js";
import { CONFIG_DEFAULTS } from "../config/defaults.js";
import { errors } from "../errors.js";
import { readHostIdentities } from "./read-host-keys.js";

/**
 * @param paths - identity files in order of preference
 * @param warn - told about each identity file that was skipped, and what to do
 * @returns every identity found
 * @throws AgentError noHostKey when none of the paths yields an identity
 */
export async function loadHostIdentities(paths: readonly string[], warn: (message: string) => void = () => {}): Promise<Identity[]> {
  const { identities, problems, missing } = await readHostIdentities(paths);
  if (identities.length === 0) {
    throw errors.noHostKey([paths.join(", ") + (problems.length ? ` (${problems.join("; ")})` : "")]);
  }
  const fix = "fix the file or remove it from identityPaths in /etc/nixseal/agent.json (or from --identity)";
  for (const p of problems) warn(`identity file ${p}; skipped it and used the others: ${fix}`);
  for (const path of missing) {
    // a default key (also inside an image being baked) may be absent: many hosts have no RSA key
    if (!CONFIG_DEFAULTS.identityPaths.some((d) => path === d || path.endsWith(d))) warn(`identity file ${path} does not exist; skipped it and used the others: ${fix}`);
  }
  return identities;
}

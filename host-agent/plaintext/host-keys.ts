// The host's SSH private keys as age identities. A missing key file is skipped (many
// hosts have no RSA key); an unreadable or unparsable one is reported in the error.
import type { Identity } from "../../core/age/decrypt.js";
import { errors } from "../errors.js";
import { readHostIdentities } from "./read-host-keys.js";

/**
 * @param paths - identity files in order of preference
 * @returns every identity found
 * @throws AgentError noHostKey when none of the paths yields an identity
 */
export async function loadHostIdentities(paths: readonly string[]): Promise<Identity[]> {
  const { identities, problems } = await readHostIdentities(paths);
  if (identities.length === 0) {
    throw errors.noHostKey([paths.join(", ") + (problems.length ? ` (${problems.join("; ")})` : "")]);
  }
  return identities;
}

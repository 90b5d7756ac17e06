// The host's SSH private keys as age identities, read without judging: what loads, what
// was wrong with the rest, and which files are missing. The decrypt worker uses this
// directly (no agent error catalogue to load there); host-keys.ts turns "none at all"
// into the agent's error and the rest into warnings.
import { readFileSync } from "node:fs";
import { parseHostIdentityFile, type Identity } from "../../core/age/decrypt.js";
import { NixsealError } from "../../core/errors.js";

/**
 * Reads every usable identity among paths. Throws nothing.
 *
 * @param paths - identity files in order of preference
 * @returns the identities; "PATH: what is wrong" for each file that gave none; missing paths
 */
export async function readHostIdentities(paths: readonly string[]): Promise<{ identities: Identity[]; problems: string[]; missing: string[] }> {
  const identities: Identity[] = [];
  const problems: string[] = [];
  const missing: string[] = [];
  for (const path of paths) {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") missing.push(path);
      else problems.push(`${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
      continue;
    }
    if (data.length === 0) {
      problems.push(`${path} is empty`);
      continue;
    }
    try {
      identities.push(...(await parseHostIdentityFile(data, path)));
    } catch (err) {
      problems.push(err instanceof NixsealError && err.message.startsWith(path) ? err.message : `${path}: ${err instanceof NixsealError ? err.message : "not a usable private key"}`);
    } finally {
      data.fill(0);
    }
  }
  return { identities, problems, missing };
}

// The host's SSH private keys as age identities, read without judging: what loads, and
// what was wrong with the rest. The decrypt worker uses this directly (no agent error
// catalogue to load there); host-keys.ts turns "none at all" into the agent's error.
import { readFileSync } from "node:fs";
import { parseHostIdentityFile, type Identity } from "../../core/age/decrypt.js";
import { NixsealError } from "../../core/errors.js";

/**
 * Reads every usable identity among paths, and what was wrong with the others (a
 * missing file is not a problem). Throws nothing.
 *
 * @param paths - identity files in order of preference
 */
export async function readHostIdentities(paths: readonly string[]): Promise<{ identities: Identity[]; problems: string[] }> {
  const identities: Identity[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") problems.push(`${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
      continue;
    }
    try {
      identities.push(...(await parseHostIdentityFile(data, path)));
    } catch (err) {
      problems.push(err instanceof NixsealError ? err.message : `${path}: not a usable private key`);
    }
  }
  return { identities, problems };
}

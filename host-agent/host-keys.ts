// The host's SSH private keys as age identities. A missing key file is skipped (many
// hosts have no RSA key); an unreadable or unparsable one is reported in the error.
import { readFileSync } from "node:fs";
import { parseHostIdentityFile, type Identity } from "../core/age/decrypt.js";
import { NixsealError } from "../core/errors.js";
import { errors } from "./errors.js";

/**
 * @param paths - identity files in order of preference
 * @returns every identity found
 * @throws AgentError noHostKey when none of the paths yields an identity
 */
export async function loadHostIdentities(paths: readonly string[]): Promise<Identity[]> {
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
  if (identities.length === 0) {
    throw errors.noHostKey([paths.join(", ") + (problems.length ? ` (${problems.join("; ")})` : "")]);
  }
  return identities;
}

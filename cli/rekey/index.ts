import type { AdminIdentity } from "../identity/index.js";
import { decryptSecret } from "../repo/crypt.js";
import { recordRecipientSet, secretFile, secretsDir, type LoadedRepo } from "../repo/index.js";
import { appendRecipients, type Fallback } from "./append.js";
import { planRekey } from "./plan.js";
import { encryptEach, type PlainJob } from "./pool.js";
import { StagedFiles, removeStaleTemps } from "./stage.js";

export { encryptEach, encryptMany, PARALLEL_THRESHOLD, type PlainJob } from "./pool.js";
export { planRekey, type RekeyStep } from "./plan.js";
export type { Fallback } from "./append.js";

/** What a rekey did: the names done, split by path, and why some took the full path. */
interface RekeyOutcome {
  names: string[];
  /** Recipients appended; file key and payload kept. */
  added: string[];
  /** Re-encrypted with a fresh file key. */
  full: string[];
  /** Secrets whose set changed but that took the full path, with the reason. */
  reasons: Fallback[];
}

/**
 * Brings the named secrets to their current recipient sets. A secret whose set
 * only grew (and whose old set is recorded) keeps its file key and payload and
 * gets stanzas for the added recipients; every other one (a removal, a changed
 * key, no record, `full`) is decrypted with the admin identity and re-encrypted
 * with a fresh file key, in workers when there are many. New blobs are staged
 * (temp + fsync) and renamed into place only when every one succeeded, then
 * encryptedTo and the recipient-set table are updated in repo (the caller
 * saves nixseal.json). Any failure (a blob no admin key opens, a bad
 * recipient) changes no file; temps a killed run left behind are removed
 * first (callers hold the repo lock).
 *
 * @param opts.full - re-encrypt every one with a fresh file key (`--all`)
 */
export async function rekey(loaded: LoadedRepo, names: string[], admin: AdminIdentity, opts: { workers?: number; full?: boolean } = {}): Promise<RekeyOutcome> {
  const { dir, repo } = loaded;
  const steps = planRekey(repo, names, opts.full);
  await removeStaleTemps(secretsDir(dir));
  const staged = new StagedFiles();
  const reasons: Fallback[] = [];
  const fullNames = new Set<string>();
  try {
    const adds = steps.flatMap((s) => (s.kind === "add" ? [s] : []));
    const fallbacks = await appendRecipients(dir, adds, admin.identities, staged);
    for (const s of steps) {
      if (s.kind === "full") {
        fullNames.add(s.name);
        if (s.reason) reasons.push({ name: s.name, reason: s.reason });
      }
    }
    for (const f of fallbacks) {
      fullNames.add(f.name);
      reasons.push({ name: f.name, reason: `the add path did not fit: ${f.reason}` });
    }
    const jobs: PlainJob[] = steps
      .filter((s) => fullNames.has(s.name))
      .map((s) => ({ name: s.name, recipients: s.lines, plaintext: () => decryptSecret(dir, s.name, admin.identities, admin.source) }));
    await encryptEach(jobs, (name, ciphertext) => staged.add(secretFile(dir, name), ciphertext), opts);
    await staged.commit();
  } catch (err) {
    await staged.abort();
    throw err;
  }
  for (const s of steps) repo.secrets[s.name]!.encryptedTo = recordRecipientSet(repo, s.lines);
  const all = steps.map((s) => s.name);
  return { names: all, added: all.filter((n) => !fullNames.has(n)), full: all.filter((n) => fullNames.has(n)), reasons };
}

/**
 * {@link rekey}, returning only the names re-encrypted.
 *
 * @returns the names re-encrypted
 */
export async function rekeySecrets(loaded: LoadedRepo, names: string[], admin: AdminIdentity, opts: { workers?: number; full?: boolean } = {}): Promise<string[]> {
  return (await rekey(loaded, names, admin, opts)).names;
}

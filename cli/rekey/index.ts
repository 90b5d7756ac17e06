import type { AdminIdentity } from "../identity/index.js";
import { decryptSecret } from "../repo/crypt.js";
import { recipientLines, recipientSetId, secretFile, type LoadedRepo } from "../repo/index.js";
import { encryptEach, type PlainJob } from "./pool.js";
import { StagedFiles } from "./stage.js";

export { encryptEach, encryptMany, PARALLEL_THRESHOLD, type PlainJob } from "./pool.js";

/**
 * Re-encrypts the named secrets to their current recipient sets: each is
 * decrypted with the admin identity here, on demand, while workers encrypt
 * the ones before it; new blobs are staged (temp + fsync) as they arrive and
 * renamed into place only when every one succeeded, then encryptedTo is
 * recorded in repo (the caller saves nixseal.json). Any failure (a blob no
 * admin key opens, a bad recipient) changes no file.
 *
 * @returns the names re-encrypted
 */
export async function rekeySecrets(loaded: LoadedRepo, names: string[], admin: AdminIdentity, opts: { workers?: number } = {}): Promise<string[]> {
  const { dir, repo } = loaded;
  const jobs: PlainJob[] = names.map((name) => ({
    name,
    recipients: recipientLines(repo, name),
    plaintext: () => decryptSecret(dir, name, admin.identities, admin.source),
  }));
  const staged = new StagedFiles();
  try {
    await encryptEach(jobs, (name, ciphertext) => staged.add(secretFile(dir, name), ciphertext), opts);
    await staged.commit();
  } catch (err) {
    await staged.abort();
    throw err;
  }
  for (const job of jobs) repo.secrets[job.name]!.encryptedTo = recipientSetId(job.recipients);
  return names;
}

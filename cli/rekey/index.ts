import { writeFileAtomic } from "../../core/index.js";
import type { AdminIdentity } from "../identity/index.js";
import { decryptSecret } from "../repo/crypt.js";
import { recipientLines, recipientSetId, secretFile, type LoadedRepo } from "../repo/index.js";
import { encryptMany, type PlainJob } from "./pool.js";

export { encryptMany, PARALLEL_THRESHOLD, type PlainJob } from "./pool.js";

/**
 * Re-encrypts the named secrets to their current recipient sets: decrypts each
 * with the admin identity (here), encrypts in parallel (workers), and only when
 * every one succeeded writes the blobs (temp + rename each) and records the new
 * encryptedTo in repo (the caller saves nixseal.json). Any failure changes nothing.
 *
 * @returns the names re-encrypted
 */
export async function rekeySecrets(loaded: LoadedRepo, names: string[], admin: AdminIdentity, opts: { workers?: number } = {}): Promise<string[]> {
  const { dir, repo } = loaded;
  const jobs: PlainJob[] = [];
  try {
    for (const name of names) {
      const plaintext = await decryptSecret(dir, name, admin.identities, admin.source);
      jobs.push({ name, plaintext, recipients: recipientLines(repo, name) });
    }
    const ciphertexts = await encryptMany(jobs, opts);
    for (const job of jobs) {
      await writeFileAtomic(secretFile(dir, job.name), ciphertexts.get(job.name)!, 0o644);
      repo.secrets[job.name]!.encryptedTo = recipientSetId(job.recipients);
    }
    return jobs.map((j) => j.name);
  } finally {
    for (const job of jobs) job.plaintext.fill(0);
  }
}

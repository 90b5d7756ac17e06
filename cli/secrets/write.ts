// Writing a secret's blob: encrypted to its current recipients, temp + rename.
import { mkdir } from "node:fs/promises";
import { writeFileAtomic, type Repo } from "../../core/index.js";
import { encryptSecret } from "../repo/crypt.js";
import { secretFile, secretsDir } from "../repo/index.js";

/** Encrypts to the secret's current recipients, writes the blob (temp + rename), records encryptedTo. */
export async function writeEncrypted(dir: string, repo: Repo, name: string, value: Uint8Array): Promise<void> {
  const { ciphertext, encryptedTo } = await encryptSecret(repo, name, value);
  await mkdir(secretsDir(dir), { recursive: true });
  await writeFileAtomic(secretFile(dir, name), ciphertext, 0o644);
  repo.secrets[name]!.encryptedTo = encryptedTo;
}

/** The updatedAt stamp of a change. */
export function now(): string {
  return new Date().toISOString();
}

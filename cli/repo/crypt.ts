import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import {
  NixsealError,
  decrypt,
  encrypt,
  parseRecipient,
  type Identity,
  type Recipient,
  type Repo,
} from "../../core/index.js";
import { secretFile } from "./paths.js";
import { recipientLines, recordRecipientSet } from "./recipients.js";

/** Parses recipient lines once each; a bad line is reported by where it came from. */
export async function parseRecipients(lines: string[], source: string): Promise<Recipient[]> {
  return Promise.all(lines.map((line) => parseRecipient(line, source)));
}

/**
 * A secret encrypted to its current recipient set, and that set's id (for
 * encryptedTo); the set is recorded in repo.recipientSets for later rekeys.
 */
export async function encryptSecret(repo: Repo, name: string, plaintext: Uint8Array): Promise<{ ciphertext: Uint8Array; encryptedTo: string }> {
  const lines = recipientLines(repo, name);
  const recipients = await parseRecipients(lines, "nixseal.json");
  const ciphertext = encrypt(plaintext, recipients);
  return { ciphertext, encryptedTo: recordRecipientSet(repo, lines) };
}

/**
 * Reads and decrypts secrets/<name>.age with the admin identities.
 *
 * @throws NixsealError NIXSEAL_ERR_CANNOT_DECRYPT when no admin key opens it
 */
export async function decryptSecret(dir: string, name: string, identities: Identity[], source: string): Promise<Uint8Array> {
  const file = secretFile(dir, name);
  let blob: Buffer;
  try {
    blob = await readFile(file);
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `${relative(dir, file)}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, {
      hints: ["restore it from git, or set a new value with \"nixseal secrets rotate " + name + "\""],
      cause: err,
    });
  }
  return decryptBlob(blob, identities, relative(dir, file), source);
}

/** Decrypts a blob in memory, turning "not for this key" into an error that names the way out. */
export function decryptBlob(blob: Uint8Array, identities: Identity[], label: string, source: string): Uint8Array {
  try {
    return decrypt(blob, identities);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new NixsealError("NIXSEAL_ERR_CANNOT_DECRYPT", `cannot decrypt ${label} with the admin identity from ${source}: ${why}`, {
      hints: [
        "it was encrypted without your key: ask an admin whose key opens it to run \"nixseal secrets rekey\"",
        `or restore ${label} from git, or give it a new value with "nixseal secrets rotate"`,
      ],
      cause: err,
    });
  }
}

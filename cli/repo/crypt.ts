import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import {
  NixsealError,
  canonicalRecipient,
  decrypt,
  encrypt,
  parseRecipient,
  type Identity,
  type Recipient,
  type Repo,
} from "../../core/index.js";
import { publicKeysOf } from "../identity/manage.js";
import { secretFile } from "./paths.js";
import { recipientLines, recordRecipientSet } from "./recipients.js";

/** Parses recipient lines once each; a bad line is reported by where it came from. */
async function parseRecipients(lines: string[], source: string): Promise<Recipient[]> {
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
 * @param admins - the repo's admin recipients, to tell a wrong identity from a blob not yet encrypted to it
 * @throws NixsealError NIXSEAL_ERR_CANNOT_DECRYPT when no admin key opens it, NIXSEAL_ERR_NOT_AN_ADMIN
 * when the identity is none of the repo's admins
 */
export async function decryptSecret(dir: string, name: string, identities: Identity[], source: string, admins?: readonly { recipient: string }[]): Promise<Uint8Array> {
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
  return decryptBlob(blob, identities, relative(dir, file), source, admins);
}

/** Decrypts a blob in memory, turning "not for this key" into an error that names the way out. */
function decryptBlob(blob: Uint8Array, identities: Identity[], label: string, source: string, admins?: readonly { recipient: string }[]): Uint8Array {
  try {
    return decrypt(blob, identities);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const mine = publicKeysOf(identities);
    if (admins && mine.length === identities.length && !mine.some((k) => admins.some((a) => sameRecipient(a.recipient, k)))) {
      throw new NixsealError("NIXSEAL_ERR_NOT_AN_ADMIN", `the identity from ${source} is not an admin of this repo, so it cannot open ${label}`, {
        hints: [
          `its public key ${mine[0]!.split(" ").slice(0, 2).join(" ")} is not in nixseal.json's admins ("nixseal admin list" shows them)`,
          "use your admin identity (-i FILE, NIXSEAL_IDENTITY, or the keychain: \"nixseal identity where\")",
          "or have an admin add this key: nixseal admin add NAME --key PUBLIC-KEY (then it opens every secret)",
        ],
        cause: err,
      });
    }
    throw new NixsealError("NIXSEAL_ERR_CANNOT_DECRYPT", `cannot decrypt ${label} with the admin identity from ${source}: ${why}`, {
      hints: [
        "it was encrypted without your key: ask an admin whose key opens it to run \"nixseal secrets rekey\"",
        `or restore ${label} from git, or give it a new value with "nixseal secrets rotate"`,
      ],
      cause: err,
    });
  }
}

function sameRecipient(a: string, b: string): boolean {
  try {
    return canonicalRecipient(a) === canonicalRecipient(b);
  } catch {
    return false;
  }
}

// Public crypto API of nixseal (the contract other parts code against).
// age v1 on node:crypto: see docs/crypto.md for why the format is implemented
// here rather than through age-encryption's streams. Nothing heavy is imported
// at top level: libsodium (operator side, ssh-ed25519 recipients) and ssh2
// (passphrase-protected OpenSSH keys) load on first use.
import { bech32Decode, bech32Encode } from "./bech32.js";
import { recipientError, identityError } from "./errors.js";
import { decryptFile, encryptFile } from "./format.js";
import { parseIdentityText, parseRecipientLine, parseRecipientsText, parseRecipientsTextWithSources } from "./parse.js";
import { X25519Identity, generateX25519 } from "./x25519.js";
import type { Identity, Recipient } from "./types.js";
import { canonicalSshLine, looksLikeSshPublicKey, parseSshPublicKey, sshKeyFingerprint } from "../keys/ssh-public.js";

export type { Identity, Recipient, Stanza } from "./types.js";
export { AgeErrorCode } from "./errors.js";
export { X25519Identity, X25519Recipient } from "./x25519.js";
export { SshEd25519Identity, SshEd25519Recipient } from "./ssh-ed25519.js";
export { SshRsaIdentity, SshRsaRecipient } from "./ssh-rsa.js";
export { armor, dearmor, isArmored } from "./armor.js";
export { decryptPayload } from "./stream.js";
export { parseHeader } from "./header.js";
export { unwrapWith } from "./format.js";
export { addRecipients, stanzaLabel, recipientLabel } from "./add-recipients.js";
export { identityFromSshKey, type AnyIdentity, type AnyRecipient } from "./parse.js";
export { parseSshPrivateKey, type SshPrivateKey, type PassphraseSource } from "../keys/ssh-private.js";
export { parseSshPublicKey, type SshPublicKey } from "../keys/ssh-public.js";

/**
 * Parses one recipient. Returned objects are reusable: per-key work (the
 * Ed25519 to X25519 conversion, the tweak) is done here once, so wrap in a
 * loop with the same object. In a worker thread, rebuild from the line.
 *
 * @param line - `age1…`, `ssh-ed25519 AAAA… [comment]` or `ssh-rsa AAAA… [comment]`
 * @param source - where the line came from (`file:line`), used in error messages
 * @throws NixsealError NIXSEAL_ERR_AGE_RECIPIENT, NIXSEAL_ERR_KEY_UNSUPPORTED, NIXSEAL_ERR_RSA_KEY_TOO_SMALL
 */
export async function parseRecipient(line: string, source?: string): Promise<Recipient> {
  return parseRecipientLine(line, source);
}

/**
 * A recipients file: one per line, `#` comments and blank lines skipped.
 *
 * @param text - file contents
 * @param file - file name, for messages
 * @throws NixsealError NIXSEAL_ERR_AGE_NO_RECIPIENTS when it names none; line errors as parseRecipient
 */
export async function parseRecipientsFile(text: string, file: string): Promise<Recipient[]> {
  return parseRecipientsText(text, file);
}

/**
 * A recipients file, each recipient with its `FILE:LINE` (to name repeats).
 *
 * @throws NixsealError as parseRecipientsFile
 */
export async function parseRecipientsFileWithSources(text: string, file: string): Promise<Array<{ recipient: Recipient; source: string }>> {
  return parseRecipientsTextWithSources(text, file);
}

/**
 * The recipients once each, in order, and every repeat of a key given before (the same
 * key written twice, with another comment, or as -r and in a -R file): encrypting to it
 * twice would only add an identical stanza.
 *
 * @param list - recipients with where each was given
 * @returns the unique ones, and for each repeat its source and the first one's
 */
export function dedupeRecipients<T extends { recipient: Recipient; source: string }>(list: readonly T[]): { unique: T[]; repeats: Array<{ source: string; first: string }> } {
  const seen = new Map<string, string>();
  const unique: T[] = [];
  const repeats: Array<{ source: string; first: string }> = [];
  for (const r of list) {
    const key = canonicalForm(r.recipient);
    const first = key === undefined ? undefined : seen.get(key);
    if (first !== undefined) repeats.push({ source: r.source, first });
    else {
      if (key !== undefined) seen.set(key, r.source);
      unique.push(r);
    }
  }
  return { unique, repeats };
}

/** Our recipient types print their canonical form; another kind has none and is never taken for a repeat. */
function canonicalForm(recipient: Recipient): string | undefined {
  const print = (recipient as { toString(): string }).toString;
  return print === Object.prototype.toString ? undefined : print.call(recipient);
}

/**
 * An identity file: AGE-SECRET-KEY-1… lines, or one OpenSSH / PEM private key
 * (ed25519 or RSA; encrypted ones call opts.passphrase).
 *
 * @param data - file contents
 * @param file - file name, for messages
 * @param opts - passphrase: asked only for an encrypted key
 * @throws NixsealError NIXSEAL_ERR_AGE_IDENTITY, NIXSEAL_ERR_KEY_INVALID, NIXSEAL_ERR_KEY_UNSUPPORTED,
 *   NIXSEAL_ERR_KEY_PASSPHRASE, NIXSEAL_ERR_KEY_PASSPHRASE_REQUIRED, NIXSEAL_ERR_RSA_KEY_TOO_SMALL
 */
export async function parseIdentityFile(
  data: string | Uint8Array,
  file: string,
  opts?: { passphrase?: () => Promise<string> },
): Promise<Identity[]> {
  return parseIdentityText(data, file, opts?.passphrase);
}

/**
 * Encrypts a whole value in memory to every recipient (age v1, optionally armored).
 *
 * @param plaintext - the value
 * @param recipients - at least one
 * @param opts - armor: ASCII-armored output
 * @returns the age file
 * @throws NixsealError NIXSEAL_ERR_AGE_NO_RECIPIENTS
 */
export function encrypt(plaintext: Uint8Array, recipients: Recipient[], opts?: { armor?: boolean }): Uint8Array {
  return encryptFile(plaintext, recipients, opts);
}

/**
 * Decrypts a whole age file (binary or armored) in memory; returns plaintext
 * only after every chunk authenticated.
 *
 * @param ciphertext - the age file
 * @param identities - tried in order
 * @returns the plaintext
 * @throws NixsealError NIXSEAL_ERR_AGE_ARMOR, _HEADER, _STANZA, _NO_IDENTITY, _HMAC, _PAYLOAD
 */
export function decrypt(ciphertext: Uint8Array, identities: Identity[]): Uint8Array {
  return decryptFile(ciphertext, identities);
}

/**
 * A fresh age X25519 identity.
 *
 * @returns `AGE-SECRET-KEY-1…` and its `age1…` recipient
 */
export function generateAgeIdentity(): { identity: string; recipient: string } {
  return generateX25519();
}

/**
 * The age1… recipient of an AGE-SECRET-KEY-1… identity.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_IDENTITY
 */
export function recipientOf(identity: string): string {
  return new X25519Identity(identity.trim()).recipient().toString();
}

/**
 * A recipient line reduced to its canonical form (type and key, no comment), for comparisons.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_RECIPIENT, NIXSEAL_ERR_KEY_UNSUPPORTED
 */
export function canonicalRecipient(line: string): string {
  const t = line.trim();
  if (t.startsWith("age1")) {
    const dec = bech32Decode(t);
    if (dec === null || dec.hrp !== "age" || dec.data.length !== 32) throw recipientError("not a valid age1… recipient");
    return bech32Encode("age", dec.data);
  }
  if (looksLikeSshPublicKey(t)) return canonicalSshLine(parseSshPublicKey(t));
  if (t.startsWith("AGE-SECRET-KEY-")) throw identityError("this is an age secret key, not a recipient");
  throw recipientError("not a recipient (expected age1…, ssh-ed25519 AAAA… or ssh-rsa AAAA…)");
}

/**
 * `SHA256:…` fingerprint of an SSH public key line, as `ssh-keygen -l` prints it.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_RECIPIENT, NIXSEAL_ERR_KEY_UNSUPPORTED
 */
export function sshFingerprint(line: string): string {
  return sshKeyFingerprint(parseSshPublicKey(line));
}

// Public crypto API of nixseal (the contract other parts code against).
// STUB: the crypto-foundation work (issue 2) replaces these bodies; keep the signatures
// (extend them if needed, do not break them).
import { NixsealError } from "../errors.js";

/** One header stanza; structurally the same as age-encryption's Stanza. */
export interface Stanza {
  readonly args: string[];
  readonly body: Uint8Array;
}
/** Structurally compatible with age-encryption's Recipient (sync here, for speed). */
export interface Recipient {
  wrapFileKey(fileKey: Uint8Array): Stanza[];
}
/** Structurally compatible with age-encryption's Identity: null = not mine, throw = mine but broken. */
export interface Identity {
  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null;
}

const todo = (): never => {
  throw new NixsealError("NIXSEAL_ERR_INTERNAL", "crypto core not implemented yet");
};

/** One recipient: `age1…`, `ssh-ed25519 AAAA… [comment]` or `ssh-rsa AAAA… [comment]`. */
export async function parseRecipient(_line: string, _source?: string): Promise<Recipient> {
  return todo();
}
/** A recipients file: one per line, `#` comments and blank lines skipped; none at all is an error. */
export async function parseRecipientsFile(_text: string, _file: string): Promise<Recipient[]> {
  return todo();
}
/** An identity file: AGE-SECRET-KEY-1… lines, or one OpenSSH / PEM private key (encrypted ones ask opts.passphrase). */
export async function parseIdentityFile(
  _data: string | Uint8Array,
  _file: string,
  _opts?: { passphrase?: () => Promise<string> },
): Promise<Identity[]> {
  return todo();
}
/** Encrypts a whole value in memory to every recipient (age v1, optionally armored). */
export function encrypt(_plaintext: Uint8Array, _recipients: Recipient[], _opts?: { armor?: boolean }): Uint8Array {
  return todo();
}
/** Decrypts a whole age file in memory; returns plaintext only after every chunk authenticated. */
export function decrypt(_ciphertext: Uint8Array, _identities: Identity[]): Uint8Array {
  return todo();
}
/** A fresh age X25519 identity. */
export function generateAgeIdentity(): { identity: string; recipient: string } {
  return todo();
}
/** The age1… recipient of an AGE-SECRET-KEY-1… identity. */
export function recipientOf(_identity: string): string {
  return todo();
}
/** A recipient line reduced to its canonical form (type and key, no comment), for comparisons. */
export function canonicalRecipient(_line: string): string {
  return todo();
}
/** `SHA256:…` fingerprint of an SSH public key line, as `ssh-keygen -l` prints it. */
export function sshFingerprint(_line: string): string {
  return todo();
}

// Text to recipients and identities: dispatch by prefix, errors by file:line.
import { identityError, recipientError } from "./errors.js";
import { SshEd25519Identity, SshEd25519Recipient } from "./ssh-ed25519.js";
import { SshRsaIdentity, SshRsaRecipient } from "./ssh-rsa.js";
import { X25519Identity, X25519Recipient } from "./x25519.js";
import { AgeErrorCode } from "./errors.js";
import { NixsealError } from "../errors.js";
import { looksLikeSshPublicKey, parseSshPublicKey } from "../keys/ssh-public.js";
import { looksLikePrivateKey, parseSshPrivateKey, type PassphraseSource, type SshPrivateKey } from "../keys/ssh-private.js";

/** Any recipient type nixseal builds. */
export type AnyRecipient = X25519Recipient | SshEd25519Recipient | SshRsaRecipient;
/** Any identity type nixseal builds. */
export type AnyIdentity = X25519Identity | SshEd25519Identity | SshRsaIdentity;

/**
 * One recipient line.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_RECIPIENT, NIXSEAL_ERR_KEY_UNSUPPORTED, NIXSEAL_ERR_RSA_KEY_TOO_SMALL
 */
export async function parseRecipientLine(line: string, source?: string): Promise<AnyRecipient> {
  const t = line.trim();
  // age1pq1… (post-quantum hybrid) and age1NAME1… (plugins) are other types.
  const other = /^age1([a-z0-9]+)1[02-9ac-hj-np-z]+$/.exec(t);
  if (other && t.lastIndexOf("1") > 3) {
    throw recipientError(`${other[1] === "pq" ? "post-quantum (age1pq…)" : `plugin (age1${other[1]}…)`} recipients are not supported`, source);
  }
  if (t.startsWith("age1")) return new X25519Recipient(t, source);
  if (t.startsWith("ssh-ed25519 ") || t.startsWith("ssh-ed25519\t")) return SshEd25519Recipient.fromLine(t, source);
  if (t.startsWith("ssh-rsa ") || t.startsWith("ssh-rsa\t")) return SshRsaRecipient.fromLine(t, source);
  if (looksLikeSshPublicKey(t)) {
    parseSshPublicKey(t, source); // throws the precise error (unsupported type, bad base64)
  }
  if (t.startsWith("AGE-SECRET-KEY-")) {
    throw recipientError("this is an age secret key, not a recipient (never share it)", source);
  }
  throw recipientError("not a recipient (expected age1…, ssh-ed25519 AAAA… or ssh-rsa AAAA…)", source);
}

/**
 * A recipients file: one per line, `#` comments and blank lines skipped.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_NO_RECIPIENTS when it names none
 */
export async function parseRecipientsText(text: string, file: string): Promise<AnyRecipient[]> {
  return (await parseRecipientsTextWithSources(text, file)).map((r) => r.recipient);
}

/**
 * parseRecipientsText, each recipient with where it was written (`FILE:LINE`).
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_NO_RECIPIENTS when it names none
 */
export async function parseRecipientsTextWithSources(text: string, file: string): Promise<Array<{ recipient: AnyRecipient; source: string }>> {
  const out: Array<{ recipient: AnyRecipient; source: string }> = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const source = `${file}:${i + 1}`;
    out.push({ recipient: await parseRecipientLine(line, source), source });
  }
  if (out.length === 0) {
    throw new NixsealError(AgeErrorCode.noRecipients, `${file}: the recipients file names no recipient`, {
      hints: ["add one recipient per line (age1…, ssh-ed25519 AAAA… or ssh-rsa AAAA…)"],
    });
  }
  return out;
}

/** The identity of a parsed SSH private key. */
export function identityFromSshKey(key: SshPrivateKey, source?: string): SshEd25519Identity | SshRsaIdentity {
  return key.type === "ssh-ed25519" ? new SshEd25519Identity(key) : new SshRsaIdentity(key, source);
}

/**
 * An identity file: AGE-SECRET-KEY-1… lines (with # comments), or one OpenSSH/PEM private key.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_IDENTITY and the key errors of parseSshPrivateKey
 */
export async function parseIdentityText(
  data: string | Uint8Array,
  file: string,
  passphrase?: PassphraseSource,
): Promise<AnyIdentity[]> {
  const text = typeof data === "string" ? data : Buffer.from(data).toString("utf8");
  if (looksLikePrivateKey(text)) return [identityFromSshKey(await parseSshPrivateKey(text, file, passphrase), file)];
  const out: AnyIdentity[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const source = `${file}:${i + 1}`;
    if (line.startsWith("AGE-SECRET-KEY-1")) {
      out.push(new X25519Identity(line, source));
    } else if (looksLikeSshPublicKey(line) || line.startsWith("age1")) {
      throw identityError("this is a public key; an identity file needs the private key", source);
    } else if (line.startsWith("AGE-PLUGIN-")) {
      throw identityError("age plugin identities are not supported", source);
    } else {
      throw identityError("not an identity (expected AGE-SECRET-KEY-1… or an SSH private key)", source);
    }
  }
  if (out.length === 0) throw identityError("the identity file holds no identity", file);
  return out;
}

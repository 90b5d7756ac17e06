// Giving more recipients access to an existing age file without re-encrypting
// it: the file key is unwrapped, the header MAC and the whole payload are
// verified, one stanza per added recipient is appended, and the header MAC is
// recomputed. The payload bytes stay as they are (same file key, same nonce).
// Safe only for additions: see docs/crypto.md, "Adding recipients".
import { dearmor, isArmored } from "./armor.js";
import { AgeErrorCode, headerError, hmacError, recipientError } from "./errors.js";
import { assembleFile, unwrapWith } from "./format.js";
import { parseHeader, serializeStanzas, verifyHeaderMac } from "./header.js";
import { SshEd25519Recipient } from "./ssh-ed25519.js";
import { SshRsaRecipient } from "./ssh-rsa.js";
import { decryptPayload } from "./stream.js";
import type { Identity, Recipient, Stanza } from "./types.js";
import { X25519Recipient } from "./x25519.js";
import { NixsealError } from "../errors.js";

/** Options of {@link addRecipients}. */
interface AddRecipientsOptions {
  /**
   * The recipients the file is believed to be encrypted to (e.g. from a
   * record kept beside it). When given, the header must hold exactly one
   * stanza per recipient, matched by type and, for SSH keys, by key tag;
   * otherwise nothing is produced and NIXSEAL_ERR_AGE_HEADER says why.
   */
  expected?: readonly Recipient[];
}

/**
 * Adds recipients to an age file, keeping its file key and payload: the
 * result opens with every key that opened the input, plus the added ones.
 * Only for additions; to take a recipient away, encrypt anew (fresh file key).
 * The input is fully authenticated first (header MAC and every payload chunk,
 * decrypted in memory and discarded). Armored input gives armored output.
 *
 * @param file - the age file (binary or armored)
 * @param identities - keys that open it (tried in order)
 * @param added - the recipients to add (at least one; none may already have an SSH stanza in the file)
 * @param opts - expected: check the header against the recipients it should hold
 * @returns the new age file: old header + one stanza per added recipient + new MAC, then the same payload
 * @throws NixsealError NIXSEAL_ERR_AGE_NO_RECIPIENTS (nothing to add), NIXSEAL_ERR_AGE_RECIPIENT (already a
 *   recipient), NIXSEAL_ERR_AGE_HEADER (header mismatch or malformed), and decrypt's errors:
 *   _ARMOR, _STANZA, _NO_IDENTITY, _HMAC, _PAYLOAD
 */
export function addRecipients(file: Uint8Array, identities: readonly Identity[], added: readonly Recipient[], opts: AddRecipientsOptions = {}): Uint8Array {
  if (added.length === 0) {
    throw new NixsealError(AgeErrorCode.noRecipients, "no recipients to add", { hints: ["name at least one recipient to add"] });
  }
  const armored = isArmored(file);
  const bin = armored ? dearmor(file) : file;
  const header = parseHeader(bin);
  if (opts.expected) checkStanzas(header.stanzas, opts.expected);
  const present = new Set(header.stanzas.map(stanzaLabel));
  for (const r of added) {
    const label = recipientLabel(r);
    if (label !== null && label !== "X25519" && present.has(label)) throw recipientError(`${label.split(" ")[0]} key ${label.split(" ")[1]} is already a recipient of the file`);
  }

  const fileKey = unwrapWith(header.stanzas, identities);
  try {
    if (!verifyHeaderMac(fileKey, header)) throw hmacError();
    const payload = bin.subarray(header.payloadOffset);
    decryptPayload(fileKey, payload).fill(0);
    const stanzas: Stanza[] = [];
    for (const r of added) stanzas.push(...r.wrapFileKey(fileKey));
    // The old stanzas byte for byte (everything before "---"), then the new ones.
    const kept = Buffer.from(bin.buffer, bin.byteOffset, header.macInput.length - 3).toString("latin1");
    return assembleFile(fileKey, kept + serializeStanzas(stanzas) + "---", payload, armored);
  } finally {
    fileKey.fill(0);
  }
}

/**
 * What a stanza shows of its recipient: `X25519` (untagged), `ssh-ed25519 TAG`,
 * `ssh-rsa TAG`, or just the type for anything else.
 */
export function stanzaLabel(s: Stanza): string {
  const type = s.args[0] ?? "";
  return (type === "ssh-ed25519" || type === "ssh-rsa") && s.args[1] ? `${type} ${s.args[1]}` : type;
}

/** The {@link stanzaLabel} a recipient's stanza carries; null for a type nixseal did not build. */
export function recipientLabel(r: Recipient): string | null {
  if (r instanceof X25519Recipient) return "X25519";
  if (r instanceof SshEd25519Recipient || r instanceof SshRsaRecipient) return `${r.sshKey.type} ${r.tag}`;
  return null;
}

function checkStanzas(stanzas: readonly Stanza[], expected: readonly Recipient[]): void {
  if (stanzas.length !== expected.length) {
    throw headerError(`the header holds ${stanzas.length} stanzas, not the ${expected.length} of the recipients it is recorded for`);
  }
  const want = expected.map(recipientLabel);
  if (want.includes(null)) throw headerError("a recorded recipient is of a type whose stanza cannot be checked");
  const have = stanzas.map(stanzaLabel).sort();
  const wantSorted = (want as string[]).sort();
  const i = have.findIndex((l, k) => l !== wantSorted[k]);
  if (i >= 0) throw headerError(`the header's stanzas do not match the recipients it is recorded for (e.g. a "${have[i]}" stanza)`);
}

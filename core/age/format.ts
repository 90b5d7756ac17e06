// Whole-file age v1 encrypt/decrypt in memory: header + MAC + STREAM payload,
// optional armor. decryptFile returns plaintext only after the last chunk
// authenticated, so a caller never sees a prefix of a damaged file.
import { randomBytes } from "node:crypto";
import { armor, dearmor, isArmored } from "./armor.js";
import { encodeB64 } from "./base64.js";
import { AgeErrorCode, headerError, hmacError, noIdentityError, stanzaError } from "./errors.js";
import { headerMac, parseHeader, serializeHeaderWithoutMac, verifyHeaderMac } from "./header.js";
import { decryptPayload, encryptPayload } from "./stream.js";
import type { Identity, Recipient, Stanza } from "./types.js";
import { NixsealError } from "../errors.js";

const FILE_KEY_SIZE = 16;

/**
 * Encrypts plaintext to every recipient.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_NO_RECIPIENTS with an empty list
 */
export function encryptFile(plaintext: Uint8Array, recipients: readonly Recipient[], opts: { armor?: boolean } = {}): Uint8Array {
  if (recipients.length === 0) {
    throw new NixsealError(AgeErrorCode.noRecipients, "no recipients to encrypt to", {
      hints: ["give at least one recipient (-r age1… / -r \"ssh-ed25519 AAAA…\" / -R FILE)"],
    });
  }
  const fileKey = randomBytes(FILE_KEY_SIZE);
  const stanzas: Stanza[] = [];
  for (const r of recipients) stanzas.push(...r.wrapFileKey(fileKey));
  return assembleFile(fileKey, serializeHeaderWithoutMac(stanzas), encryptPayload(fileKey, plaintext), opts.armor ?? false);
}

/**
 * An age file from its parts: the header text up to and including `---`, its MAC
 * under fileKey, then the payload; armored when asked. The result has its own
 * allocation (not Node's shared pool), so a worker can transfer its buffer.
 */
export function assembleFile(fileKey: Uint8Array, headerWithoutMac: string, payload: Uint8Array, armored: boolean): Uint8Array {
  const head = Buffer.from(`${headerWithoutMac} ${encodeB64(headerMac(fileKey, headerWithoutMac))}\n`, "latin1");
  const bin = Buffer.allocUnsafeSlow(head.length + payload.length);
  bin.set(head, 0);
  bin.set(payload, head.length);
  if (!armored) return bin;
  const text = armor(bin);
  const out = Buffer.allocUnsafeSlow(text.length);
  out.write(text, "latin1");
  return out;
}

/**
 * Finds the file key in a parsed header: identities in order, the first
 * non-null wins; a throwing identity stops the search (mine but broken).
 */
export function unwrapWith(stanzas: Stanza[], identities: readonly Identity[]): Uint8Array {
  // age: an scrypt stanza must be alone (we do not implement scrypt, but keep the rule).
  if (stanzas.length > 1 && stanzas.some((s) => s.args[0] === "scrypt")) {
    throw headerError("an scrypt stanza must be the only stanza");
  }
  for (const id of identities) {
    const fileKey = id.unwrapFileKey(stanzas);
    if (fileKey === null) continue;
    if (fileKey.length !== FILE_KEY_SIZE) throw stanzaError("recipient", "the file key is not 16 bytes");
    return fileKey;
  }
  throw noIdentityError(identities, stanzas);
}

/**
 * Decrypts a whole age file (binary or armored).
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_ARMOR, _HEADER, _STANZA, _NO_IDENTITY, _HMAC, _PAYLOAD
 */
export function decryptFile(data: Uint8Array, identities: readonly Identity[]): Uint8Array {
  const bin = isArmored(data) ? dearmor(data) : data;
  const header = parseHeader(bin);
  const fileKey = unwrapWith(header.stanzas, identities);
  if (!verifyHeaderMac(fileKey, header)) throw hmacError();
  return decryptPayload(fileKey, bin.subarray(header.payloadOffset));
}

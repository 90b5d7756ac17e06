// age's STREAM: ChaCha20-Poly1305 over 64 KiB chunks, nonce = 11-byte
// big-endian counter || last-chunk flag. The last chunk may be empty only when
// the whole payload is empty; a full last chunk carries the flag itself.
import { randomBytes } from "node:crypto";
import { aeadOpen, aeadSeal, hkdf } from "./primitives.js";
import { headerError, payloadError } from "./errors.js";

/** Plaintext bytes per chunk. */
const CHUNK_SIZE = 64 * 1024;
const TAG_SIZE = 16;
const SEALED_CHUNK = CHUNK_SIZE + TAG_SIZE;
/** Length of the payload key nonce that follows the header. */
const NONCE_SIZE = 16;

function chunkNonce(counter: number, last: boolean): Uint8Array {
  const n = new Uint8Array(12);
  // Counters beyond 2^32 chunks (256 TiB) are out of reach for in-memory files.
  new DataView(n.buffer).setUint32(7, counter);
  n[11] = last ? 1 : 0;
  return n;
}

function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return hkdf(fileKey, nonce, "payload");
}

/** Encrypts a whole plaintext: returns nonce || sealed chunks. */
export function encryptPayload(fileKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE_SIZE);
  const key = payloadKey(fileKey, nonce);
  const count = Math.max(1, Math.ceil(plaintext.length / CHUNK_SIZE));
  const parts: Uint8Array[] = [nonce];
  for (let i = 0; i < count; i++) {
    const chunk = plaintext.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
    parts.push(aeadSeal(key, chunk, chunkNonce(i, i === count - 1)));
  }
  return Buffer.concat(parts);
}

/**
 * Decrypts nonce || chunks; returns the plaintext only once every chunk
 * authenticated and the final flag sits on the last one.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_HEADER (missing nonce) or NIXSEAL_ERR_AGE_PAYLOAD
 */
export function decryptPayload(fileKey: Uint8Array, payload: Uint8Array): Uint8Array {
  if (payload.length < NONCE_SIZE) throw headerError("the payload nonce is missing or short");
  const key = payloadKey(fileKey, payload.subarray(0, NONCE_SIZE));
  const body = payload.subarray(NONCE_SIZE);
  if (body.length === 0) throw payloadError("the payload has no chunks (the file is truncated)");
  const count = Math.ceil(body.length / SEALED_CHUNK);
  const lastLength = body.length - (count - 1) * SEALED_CHUNK;
  if (lastLength < TAG_SIZE) throw payloadError("the last chunk is too short (truncated or trailing bytes)");
  if (lastLength === TAG_SIZE && count > 1) throw payloadError("the last chunk is empty");
  // Its own allocation (not Node's shared pool): callers zero it or transfer its buffer.
  const out = Buffer.allocUnsafeSlow(body.length - count * TAG_SIZE);
  for (let i = 0; i < count; i++) {
    const last = i === count - 1;
    const sealed = body.subarray(i * SEALED_CHUNK, last ? body.length : (i + 1) * SEALED_CHUNK);
    const pt = aeadOpen(key, sealed, chunkNonce(i, last));
    if (pt === null) {
      throw payloadError(last ? `chunk ${i + 1} of ${count} does not open as the final chunk (truncated, extended or tampered)` : `chunk ${i + 1} of ${count} does not authenticate`);
    }
    out.set(pt, i * CHUNK_SIZE);
    pt.fill(0); // the intermediate copy of this chunk's plaintext
  }
  return out;
}

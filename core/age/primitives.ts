// The few primitives age needs, on node:crypto (OpenSSL): X25519 with
// KeyObjects, HKDF-SHA256, ChaCha20-Poly1305. Keys are imported as JWK: raw
// import is not offered for X25519, and DER + generate/export in a tight loop
// hung Node 20 here (see docs/crypto.md).
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from "node:crypto";

const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");

/** The X25519 base point u = 9. */
export const BASEPOINT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 9 : 0));
const BASEPOINT_X = b64u(BASEPOINT);

/**
 * An X25519 private key from a 32-byte scalar (clamped by OpenSSL on use).
 * JWK needs an `x`; OpenSSL recomputes the public value from `d`, so a
 * placeholder is fine and saves a scalar multiplication here.
 */
export function x25519PrivateKey(scalar: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: b64u(scalar), x: BASEPOINT_X }, format: "jwk" });
}

/** An X25519 public key from its 32-byte u-coordinate. */
export function x25519PublicKey(u: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b64u(u) }, format: "jwk" });
}

/** The 32-byte public value X25519(scalar, 9) of a private key. */
export function x25519PublicBytes(key: KeyObject): Uint8Array {
  const jwk = createPublicKey(key).export({ format: "jwk" });
  return Buffer.from(jwk.x as string, "base64url");
}

/**
 * X25519(private, public); null when the result is all zero (a low-order
 * public value), which age forbids. OpenSSL refuses that case itself.
 */
export function x25519(priv: KeyObject, pub: KeyObject): Uint8Array | null {
  let out: Buffer;
  try {
    out = diffieHellman({ privateKey: priv, publicKey: pub });
  } catch {
    return null;
  }
  return out.every((b) => b === 0) ? null : out;
}

/** A fresh ephemeral X25519 key and its share (public value). Never reuse one across stanzas. */
export function ephemeral(): { key: KeyObject; share: Uint8Array } {
  const scalar = freshScalar();
  const key = x25519PrivateKey(scalar);
  scalar.fill(0);
  return { key, share: x25519PublicBytes(key) };
}

// Ephemeral scalars are cut from one randomBytes call per 256 keys: a call
// costs ~6 µs here whatever its size (measured against ~0.2 µs for a slice),
// ~5% of an ssh-ed25519 wrap. Each slice is used once and zeroed after import.
const SCALARS_PER_DRAW = 256;
let scalarPool: Buffer = Buffer.alloc(0);
let scalarNext = 0;
function freshScalar(): Buffer {
  if (scalarNext >= scalarPool.length) {
    scalarPool = randomBytes(32 * SCALARS_PER_DRAW);
    scalarNext = 0;
  }
  const s = scalarPool.subarray(scalarNext, scalarNext + 32);
  scalarNext += 32;
  return s;
}

/**
 * HKDF-SHA256 (RFC 5869) with a string info, 32 bytes unless told. Up to one
 * hash block it is two HMACs, written out: measured 2.5x faster than
 * hkdfSync, which builds a KeyObject per call (restore runs three per file).
 */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length = 32): Uint8Array {
  if (length > 32) return new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
  // An empty salt is HashLen zero bytes (RFC 5869 2.2); HMAC pads keys with zeros anyway.
  const prk = createHmac("sha256", salt).update(ikm).digest();
  const okm = createHmac("sha256", prk).update(info).update(ONE).digest();
  return length === 32 ? okm : okm.subarray(0, length);
}
const ONE = Uint8Array.of(1);

const ZERO_NONCE = new Uint8Array(12);

/** ChaCha20-Poly1305 seal: ciphertext || 16-byte tag. */
export function aeadSeal(key: Uint8Array, plaintext: Uint8Array, nonce: Uint8Array = ZERO_NONCE): Uint8Array {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  const ct = c.update(plaintext);
  c.final();
  return Buffer.concat([ct, c.getAuthTag()]);
}

/** ChaCha20-Poly1305 open; null when the tag does not verify. */
export function aeadOpen(key: Uint8Array, sealed: Uint8Array, nonce: Uint8Array = ZERO_NONCE): Uint8Array | null {
  if (sealed.length < 16) return null;
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const pt = d.update(sealed.subarray(0, sealed.length - 16));
  try {
    d.final();
  } catch {
    return null;
  }
  return pt;
}

/** Wraps a 16-byte file key: the 32-byte stanza body. */
export function wrapFileKeyWith(key: Uint8Array, fileKey: Uint8Array): Uint8Array {
  return aeadSeal(key, fileKey);
}

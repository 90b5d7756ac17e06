// Sealing a 16-byte file key into a stanza body (ChaCha20-Poly1305, zero
// nonce): the one AEAD call per wrapped recipient. node:crypto's
// createCipheriv costs several µs per call in setup alone; libsodium's one-shot
// ChaCha20-Poly1305 (WASM) measured about 4x cheaper for 16 bytes (bench/crypto.bench.ts).
// libsodium is only ever loaded on the operator side (ssh-ed25519 recipients
// need it for the key conversion); once it is, wraps use it. A host, which
// only unwraps, never loads it and this stays on node:crypto.
import { aeadSeal } from "./primitives.js";

/** The libsodium call used here. */
export interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt(message: Uint8Array, ad: null, nsec: null, nonce: Uint8Array, key: Uint8Array): Uint8Array;
}

const ZERO_NONCE = new Uint8Array(12);
let sodium: SodiumAead | null = null;

/** Routes later sealFileKey calls through libsodium (called by the libsodium loader once it is ready). */
export function useSodiumForSeal(s: SodiumAead): void {
  sodium = s;
}

/** Which library seals file keys now (for tests and benchmarks). */
export function sealBackend(): "libsodium" | "node:crypto" {
  return sodium ? "libsodium" : "node:crypto";
}

/** Seals a file key under a wrapping key: ciphertext || tag (32 bytes for 16). */
export function sealFileKey(key: Uint8Array, fileKey: Uint8Array): Uint8Array {
  return sodium ? sodium.crypto_aead_chacha20poly1305_ietf_encrypt(fileKey, null, null, ZERO_NONCE, key) : aeadSeal(key, fileKey);
}

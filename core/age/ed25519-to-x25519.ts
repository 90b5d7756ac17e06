// Ed25519 public key -> X25519 (Montgomery) public key, via libsodium
// (crypto_sign_ed25519_pk_to_curve25519, which also rejects points that are
// not on the curve or of small order). Loaded lazily: only the operator side
// (encrypting to an ssh-ed25519 public key) needs it; a host derives its own
// Montgomery key from its private scalar with node:crypto alone.

import { useSodiumForSeal, type SodiumAead } from "./seal-file-key.js";

type Sodium = SodiumAead & { ready: Promise<void>; crypto_sign_ed25519_pk_to_curve25519(pk: Uint8Array): Uint8Array };
let sodium: Promise<Sodium> | undefined;

function loadSodium(): Promise<Sodium> {
  sodium ??= import("libsodium-wrappers").then(async (m) => {
    const s = ((m as unknown as { default?: Sodium }).default ?? m) as Sodium;
    await s.ready;
    // Loaded anyway (operator side): wraps seal file keys with it too.
    useSodiumForSeal(s);
    return s;
  });
  return sodium;
}

/**
 * Converts an Ed25519 public key to its X25519 form.
 *
 * @returns the 32-byte Montgomery u-coordinate, or null if the point is invalid
 */
export async function ed25519PublicToX25519(pk: Uint8Array): Promise<Uint8Array | null> {
  const s = await loadSodium();
  try {
    return s.crypto_sign_ed25519_pk_to_curve25519(pk);
  } catch {
    return null;
  }
}

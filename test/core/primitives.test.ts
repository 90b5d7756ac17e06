// Known-answer tests for the primitives under core/age: X25519 (RFC 7748), the
// JWK import trick (OpenSSL derives the public value from d, ignoring the
// placeholder x), bech32 and base64 strictness.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeB64, decodeB64Padded, encodeB64 } from "../../core/age/base64.js";
import { bech32Decode, bech32Encode } from "../../core/age/bech32.js";
import { BASEPOINT, x25519, x25519PrivateKey, x25519PublicBytes, x25519PublicKey } from "../../core/age/primitives.js";

const hex = (s: string) => Buffer.from(s, "hex");
const toHex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString("hex"));

describe("X25519 on node:crypto", () => {
  it("RFC 7748 §5.2 scalar multiplication", () => {
    const k = x25519PrivateKey(hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"));
    const u = x25519PublicKey(hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"));
    expect(toHex(x25519(k, u))).toBe("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  });

  it("RFC 7748 §6.1 Diffie-Hellman, public values derived from d alone", () => {
    const alice = x25519PrivateKey(hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    const bob = x25519PrivateKey(hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
    expect(toHex(x25519PublicBytes(alice))).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    expect(toHex(x25519PublicBytes(bob))).toBe("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    expect(toHex(x25519(alice, x25519PublicKey(x25519PublicBytes(bob))))).toBe(shared);
    expect(toHex(x25519(bob, x25519PublicKey(x25519PublicBytes(alice))))).toBe(shared);
  });

  it("the public value equals X25519(d, 9) for random scalars", () => {
    for (let i = 0; i < 20; i++) {
      const k = x25519PrivateKey(randomBytes(32));
      expect(toHex(x25519PublicBytes(k))).toBe(toHex(x25519(k, x25519PublicKey(BASEPOINT))));
    }
  });

  it("low-order points give null, never a key", () => {
    const k = x25519PrivateKey(randomBytes(32));
    for (const u of ["00".repeat(32), "01" + "00".repeat(31), "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"]) {
      expect(x25519(k, x25519PublicKey(hex(u)))).toBeNull();
    }
  });
});

describe("encodings", () => {
  it("base64: unpadded canonical only", () => {
    expect(encodeB64(hex("00ff10"))).toBe("AP8Q");
    expect(encodeB64(hex("00ff"))).toBe("AP8");
    expect(toHex(decodeB64("AP8"))).toBe("00ff");
    expect(decodeB64("AP8=")).toBeNull(); // padding
    expect(decodeB64("AP9")).toBeNull(); // non-canonical trailing bits
    expect(decodeB64("A")).toBeNull();
    expect(decodeB64("AP-8")).toBeNull(); // url alphabet
    expect(decodeB64("AP 8")).toBeNull();
    expect(toHex(decodeB64Padded("AP8="))).toBe("00ff");
    expect(decodeB64Padded("AP8")).toBeNull();
    expect(decodeB64Padded("AP9=")).toBeNull();
  });

  it("bech32: round trip, case rules, checksum", () => {
    const data = randomBytes(32);
    const s = bech32Encode("age", data);
    expect(s).toMatch(/^age1[02-9ac-hj-np-z]+$/);
    expect(toHex(bech32Decode(s)!.data)).toBe(toHex(data));
    const upper = bech32Encode("AGE-SECRET-KEY-", data);
    expect(upper).toBe(upper.toUpperCase());
    expect(bech32Decode(upper)!.hrp).toBe("AGE-SECRET-KEY-");
    expect(bech32Decode(s.slice(0, 10) + s.slice(10).toUpperCase())).toBeNull(); // mixed case
    const flipped = s.slice(0, -1) + (s.endsWith("q") ? "p" : "q");
    expect(bech32Decode(flipped)).toBeNull();
  });
});

describe("HKDF-SHA256", () => {
  it("matches node:crypto hkdfSync for every length up to 64 and empty salts", async () => {
    const { hkdfSync } = await import("node:crypto");
    const { hkdf } = await import("../../core/age/primitives.js");
    for (let len = 1; len <= 64; len++) {
      const ikm = randomBytes(len % 7 === 0 ? 0 : 32);
      const salt = randomBytes(len % 3 === 0 ? 0 : 64);
      expect(toHex(hkdf(ikm, salt, "age-encryption.org/v1/X25519", len))).toBe(toHex(new Uint8Array(hkdfSync("sha256", ikm, salt, "age-encryption.org/v1/X25519", len))));
    }
  });
});

describe("sealing a 16-byte file key", () => {
  it("gives the same stanza body through libsodium (operator side) as through node:crypto (host side)", async () => {
    const { sealBackend, sealFileKey } = await import("../../core/age/seal-file-key.js");
    const { aeadOpen, aeadSeal } = await import("../../core/age/primitives.js");
    const { ed25519PublicToX25519 } = await import("../../core/age/ed25519-to-x25519.js");
    // Loading libsodium (as parsing an ssh-ed25519 recipient does) switches sealFileKey to it.
    await ed25519PublicToX25519(new Uint8Array(32).fill(1));
    expect(sealBackend()).toBe("libsodium");
    for (let i = 0; i < 50; i++) {
      const key = randomBytes(32);
      const fileKey = randomBytes(16);
      const body = sealFileKey(key, fileKey);
      expect(toHex(body)).toBe(toHex(aeadSeal(key, fileKey)));
      expect(toHex(aeadOpen(key, body))).toBe(toHex(fileKey));
    }
  });
});

describe("ephemeral keys", () => {
  it("are fresh for every stanza, across refills of the random pool", async () => {
    const { ephemeral } = await import("../../core/age/primitives.js");
    const shares = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const e = ephemeral();
      expect(toHex(x25519PublicBytes(e.key))).toBe(toHex(e.share));
      shares.add(toHex(e.share)!);
    }
    expect(shares.size).toBe(600);
  });
});

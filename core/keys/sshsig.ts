// SSH signatures in OpenSSH's SSHSIG format (PROTOCOL.sshsig), the format of
// `ssh-keygen -Y sign` and `ssh-keygen -Y verify`, so anyone can check a nixseal
// signature with OpenSSH alone. A signature names a namespace; nixseal signs requests
// and bundles under namespaces of its own, so a signature made for one purpose (or by
// git, or by ssh-keygen for a file) never verifies as another.
//
// Key types: ssh-ed25519, and RSA keys signing with rsa-sha2-512 or rsa-sha2-256.
// "ssh-rsa" signatures (SHA-1) are refused, as are RSA keys under 2048 bits.
//
// Not for: deciding trust. verifySshsig says which key signed; whether that key may
// do what it signed is the caller's decision.
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { SshReader, sshString } from "./ssh-wire.js";
import { MIN_RSA_BITS, parseSshPublicBlob, rsaPublicKeyObject, type SshPublicKey } from "./ssh-public.js";
import type { SshPrivateKey } from "./ssh-private.js";

const MAGIC = Buffer.from("SSHSIG");
const VERSION = 1;
const ARMOR_BEGIN = "-----BEGIN SSH SIGNATURE-----";
const ARMOR_END = "-----END SSH SIGNATURE-----";
/** Largest signature blob read: an RSA-16384 signature with its key is under 5 KiB. */
const MAX_SSHSIG_BYTES = 8192;

type SshsigHash = "sha256" | "sha512";

/** Public keys seen recently, as node:crypto KeyObjects: importing one costs as much as a verification. */
const PUBLIC_KEY_CACHE = 10_000;
const publicKeys = new Map<string, KeyObject>();
function publicKeyObject(key: SshPublicKey): KeyObject {
  const id = Buffer.from(key.wire).toString("base64");
  let k = publicKeys.get(id);
  if (!k) {
    k = key.type === "ssh-ed25519" ? createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64u(key.key) }, format: "jwk" }) : rsaPublicKeyObject(key);
    // A bound, not an LRU: past it the map starts again (a fleet's keys come back within one round).
    if (publicKeys.size >= PUBLIC_KEY_CACHE) publicKeys.clear();
    publicKeys.set(id, k);
  }
  return k;
}

/** A parsed SSHSIG blob. */
export interface Sshsig {
  publicKey: SshPublicKey;
  namespace: string;
  hash: SshsigHash;
  /** The inner signature's algorithm: ssh-ed25519, rsa-sha2-512, rsa-sha2-256 (or another, refused on verify). */
  algorithm: string;
  signature: Uint8Array;
}

/** Why a signature does not verify. */
type SshsigRefusal = "malformed" | "namespace" | "algorithm" | "weak-key" | "mismatch";

function b64u(b: Uint8Array): string {
  return Buffer.from(b).toString("base64url");
}

function signedData(namespace: string, hash: SshsigHash, message: Uint8Array): Buffer {
  const digest = createHash(hash).update(message).digest();
  return Buffer.concat([MAGIC, sshString(namespace), sshString(""), sshString(hash), sshString(digest)]);
}

// A host signs every request with the same key: its KeyObject is made once.
const ed25519Keys = new WeakMap<Uint8Array, KeyObject>();
function ed25519PrivateKey(seed: Uint8Array, pub: Uint8Array): KeyObject {
  let k = ed25519Keys.get(seed);
  if (!k) {
    // node:crypto imports a raw Ed25519 private key only as JWK.
    k = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: b64u(seed), x: b64u(pub) }, format: "jwk" });
    ed25519Keys.set(seed, k);
  }
  return k;
}

/**
 * Signs a message as `ssh-keygen -Y sign -n NAMESPACE` does (sha512; rsa-sha2-512 for RSA).
 *
 * @param key - an ssh-ed25519 or RSA private key (core parseSshPrivateKey)
 * @param namespace - what the signature is for; the verifier must ask for the same one
 * @param message - the signed bytes
 * @returns the SSHSIG blob (armorSshsig gives the text form)
 */
export function signSshsig(key: SshPrivateKey, namespace: string, message: Uint8Array, hash: SshsigHash = "sha512"): Buffer {
  const data = signedData(namespace, hash, message);
  const inner =
    key.type === "ssh-ed25519"
      ? Buffer.concat([sshString("ssh-ed25519"), sshString(sign(null, data, ed25519PrivateKey(key.seed, key.publicKey.key)))])
      : Buffer.concat([sshString("rsa-sha2-512"), sshString(sign("sha512", data, key.privateKey))]);
  const version = Buffer.alloc(4);
  version.writeUInt32BE(VERSION);
  return Buffer.concat([MAGIC, version, sshString(key.publicKey.wire), sshString(namespace), sshString(""), sshString(hash), sshString(inner)]);
}

/**
 * The armored text form, as ssh-keygen writes it (base64 in lines of 70).
 *
 * @param blob - an SSHSIG blob
 * @returns the `-----BEGIN SSH SIGNATURE-----` text, ending in a newline
 */
export function armorSshsig(blob: Uint8Array): string {
  const b64 = Buffer.from(blob).toString("base64");
  const lines = b64.match(/.{1,70}/g) ?? [];
  return `${ARMOR_BEGIN}\n${lines.join("\n")}\n${ARMOR_END}\n`;
}

/**
 * Reads an armored signature.
 *
 * @returns the blob, or undefined when the text is not one armored SSHSIG
 */
export function dearmorSshsig(text: string): Buffer | undefined {
  if (text.length > MAX_SSHSIG_BYTES * 2) return undefined;
  const m = /^-----BEGIN SSH SIGNATURE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END SSH SIGNATURE-----\r?\n?$/.exec(text.trim() + "\n");
  if (!m) return undefined;
  const b64 = m[1]!.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  return Buffer.from(b64, "base64");
}

/**
 * Parses an SSHSIG blob (structure only: nothing is verified).
 *
 * @returns the parsed signature, or undefined when the blob is malformed or of a key
 * type nixseal does not read
 */
export function parseSshsig(blob: Uint8Array): Sshsig | undefined {
  if (blob.length > MAX_SSHSIG_BYTES || blob.length < MAGIC.length || !Buffer.from(blob.subarray(0, MAGIC.length)).equals(MAGIC)) return undefined;
  const r = new SshReader(blob.subarray(MAGIC.length));
  const version = r.uint32();
  const pub = r.string();
  const namespace = r.text();
  const reserved = r.string();
  const hash = r.text();
  const inner = r.string();
  if (version !== VERSION || pub === null || namespace === null || reserved === null || hash === null || inner === null || !r.done) return undefined;
  if (hash !== "sha256" && hash !== "sha512") return undefined;
  const ir = new SshReader(inner);
  const algorithm = ir.text();
  const signature = ir.string();
  if (algorithm === null || signature === null || !ir.done) return undefined;
  let publicKey: SshPublicKey;
  try {
    publicKey = parseSshPublicBlob(Uint8Array.from(pub));
  } catch {
    return undefined;
  }
  return { publicKey, namespace, hash, algorithm, signature: Uint8Array.from(signature) };
}

/**
 * Verifies a parsed signature over a message under a namespace.
 *
 * @param sig - parseSshsig's result
 * @param namespace - the namespace the caller expects
 * @param message - the bytes that should have been signed
 * @returns "ok", or why not: another namespace, an algorithm refused (ssh-rsa is
 * SHA-1) or not matching the key, an RSA key under 2048 bits, a signature that does not match
 */
export function verifySshsig(sig: Sshsig, namespace: string, message: Uint8Array): "ok" | SshsigRefusal {
  if (sig.namespace !== namespace) return "namespace";
  const data = signedData(namespace, sig.hash, message);
  const key = sig.publicKey;
  if (key.type === "ssh-ed25519") {
    if (sig.algorithm !== "ssh-ed25519" || sig.signature.length !== 64) return "algorithm";
    return verify(null, data, publicKeyObject(key), sig.signature) ? "ok" : "mismatch";
  }
  const hash = sig.algorithm === "rsa-sha2-512" ? "sha512" : sig.algorithm === "rsa-sha2-256" ? "sha256" : undefined;
  if (!hash) return "algorithm";
  if (key.bits < MIN_RSA_BITS) return "weak-key";
  return verify(hash, data, publicKeyObject(key), sig.signature) ? "ok" : "mismatch";
}

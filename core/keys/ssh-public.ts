// OpenSSH public keys: authorized_keys lines (`type base64 [comment]`), their
// wire blobs, canonical form and SHA256 fingerprints. Only the two types age
// knows are accepted: ssh-ed25519 and ssh-rsa.
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { SshReader, mpintMagnitude, toBigInt } from "./ssh-wire.js";
import { keyUnsupportedError, recipientError } from "../age/errors.js";

/** A parsed ssh-ed25519 public key. */
export interface SshEd25519PublicKey {
  type: "ssh-ed25519";
  /** The wire blob (what authorized_keys base64-encodes). */
  wire: Uint8Array;
  /** The 32-byte Ed25519 public key. */
  key: Uint8Array;
  comment: string;
}
/** A parsed ssh-rsa public key. */
export interface SshRsaPublicKey {
  type: "ssh-rsa";
  wire: Uint8Array;
  /** Modulus and exponent, unsigned big-endian. */
  n: Uint8Array;
  e: Uint8Array;
  bits: number;
  comment: string;
}
export type SshPublicKey = SshEd25519PublicKey | SshRsaPublicKey;

const KNOWN_UNSUPPORTED = /^(ecdsa-sha2-|sk-|ssh-dss|ssh-ed448|rsa-sha2-|.*-cert-v01@openssh\.com)/;

/** Whether a line looks like an OpenSSH public key (by its type word). */
export function looksLikeSshPublicKey(line: string): boolean {
  return /^(ssh-|ecdsa-|sk-)/.test(line.trim());
}

/**
 * Parses the wire blob of an ssh-ed25519 or ssh-rsa public key.
 *
 * @throws NixsealError when the blob is malformed or of another type
 */
export function parseSshPublicBlob(wire: Uint8Array, comment = "", source?: string): SshPublicKey {
  const r = new SshReader(wire);
  const type = r.text();
  if (type === null) throw recipientError("the SSH public key blob is truncated", source);
  if (type === "ssh-ed25519") {
    const key = r.string();
    if (key === null || key.length !== 32 || !r.done) throw recipientError("malformed ssh-ed25519 public key", source);
    return { type, wire, key, comment };
  }
  if (type === "ssh-rsa") {
    const e = r.string();
    const n = r.string();
    if (e === null || n === null || !r.done || n.length === 0 || e.length === 0) {
      throw recipientError("malformed ssh-rsa public key", source);
    }
    const nMag = mpintMagnitude(n);
    const bits = toBigInt(nMag).toString(2).length;
    return { type, wire, n: nMag, e: mpintMagnitude(e), bits, comment };
  }
  throw keyUnsupportedError(type.slice(0, 40), source);
}

/**
 * Parses one authorized_keys-style line: `ssh-ed25519 AAAA… [comment]`.
 * Options before the type (authorized_keys `from=…`) are not accepted.
 *
 * @param line - the line
 * @param source - where it came from (file:line), for the error message
 * @throws NixsealError NIXSEAL_ERR_AGE_RECIPIENT / NIXSEAL_ERR_KEY_UNSUPPORTED
 */
export function parseSshPublicKey(line: string, source?: string): SshPublicKey {
  const fields = line.trim().split(/[ \t]+/);
  const [type, b64] = fields;
  if (!type || !/^(ssh-|ecdsa-|sk-)/.test(type)) {
    throw recipientError("not an SSH public key line (expected \"ssh-ed25519 AAAA…\" or \"ssh-rsa AAAA…\")", source);
  }
  if (type !== "ssh-ed25519" && type !== "ssh-rsa") {
    if (KNOWN_UNSUPPORTED.test(type)) throw keyUnsupportedError(type.slice(0, 40), source);
    throw recipientError("not an SSH public key line (unknown key type)", source);
  }
  if (!b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw recipientError(`the ${type} key is missing or not base64`, source);
  const wire = Buffer.from(b64, "base64");
  const key = parseSshPublicBlob(wire, fields.slice(2).join(" "), source);
  if (key.type !== type) throw recipientError(`the key blob says ${key.type} but the line says ${type}`, source);
  return key;
}

/** `type base64` with no comment: the form used to compare keys. */
export function canonicalSshLine(key: SshPublicKey): string {
  return `${key.type} ${Buffer.from(key.wire).toString("base64")}`;
}

/** `SHA256:…` as `ssh-keygen -l` prints it (unpadded base64 of SHA-256 of the blob). */
export function sshKeyFingerprint(key: SshPublicKey): string {
  return "SHA256:" + createHash("sha256").update(key.wire).digest("base64").replace(/=+$/, "");
}

/** The smallest RSA modulus nixseal accepts, for age recipients and signatures alike (age's own floor). */
export const MIN_RSA_BITS = 2048;

/** The RSA public key as a node:crypto KeyObject. */
export function rsaPublicKeyObject(key: SshRsaPublicKey): KeyObject {
  const b64u = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
  return createPublicKey({ key: { kty: "RSA", n: b64u(key.n), e: b64u(key.e) }, format: "jwk" });
}

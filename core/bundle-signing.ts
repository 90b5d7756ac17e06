// A bundle on a nixseal server travels as JSON: its manifest, every .age file it names
// as base64, and optionally the operator's SSH signature over the manifest. The
// operator signs (cli push), the server checks the files but holds no trust
// (server/check-bundle.ts), the agent checks signature and files before it installs
// anything (host-agent/pull/verify.ts). All three read the wire format here, so a
// change to what is signed or how files are encoded is made once.
//
// The signature is an armored SSHSIG (core/keys/sshsig.ts) in the namespace
// BUNDLE_SIGNATURE_NAMESPACE over the manifest exactly as JSON.stringify writes it, so
// `ssh-keygen -Y verify -n nixseal-bundle-v1` checks one by hand.
//
// Not for: deciding trust. verifyBundleSignature says which key signed; which keys an
// agent accepts is the caller's list (--trust-key).
import { createHash } from "node:crypto";
import { decodeB64Padded } from "./age/base64.js";
import type { SshPrivateKey } from "./keys/ssh-private.js";
import type { SshPublicKey } from "./keys/ssh-public.js";
import { armorSshsig, dearmorSshsig, parseSshsig, signSshsig, verifySshsig } from "./keys/sshsig.js";
import type { BundleManifest } from "./schema/bundle.js";

/** The SSHSIG namespace of bundle signatures: no other nixseal signature verifies as one. */
const BUNDLE_SIGNATURE_NAMESPACE = "nixseal-bundle-v1";

/** The operator's detached signature over a manifest, as pushed and served: an armored SSHSIG. */
export type BundleSignature = string;

/** Signs manifests with one key. */
export type BundleSigner = (manifest: BundleManifest) => BundleSignature;

function signedBytes(manifest: unknown): Buffer {
  return Buffer.from(JSON.stringify(manifest));
}

/**
 * Makes a signer from a parsed ssh-ed25519 or RSA private key.
 *
 * @param key - the operator's key (core parseSshPrivateKey)
 * @returns a function that signs a manifest as it will be sent
 */
export function bundleSigner(key: SshPrivateKey): BundleSigner {
  return (manifest) => armorSshsig(signSshsig(key, BUNDLE_SIGNATURE_NAMESPACE, signedBytes(manifest)));
}

/** Why a signature was not accepted; "ok" when it was. */
export type SignatureVerdict = "ok" | "unsigned" | "bad-key" | "untrusted" | "mismatch" | "namespace" | "algorithm";

/**
 * Checks a signature over a manifest (as received, unparsed) against trusted keys.
 *
 * @param manifest - the manifest exactly as received (its key order is what was signed)
 * @param signature - the reply's signature field, of any shape
 * @param trusted - the keys whose signatures count
 * @returns "ok", or why not: no signature, not a readable SSH signature, a key not
 * trusted, a signature of another namespace, a refused algorithm (ssh-rsa is SHA-1;
 * RSA under 2048 bits), a signature that does not match
 */
export function verifyBundleSignature(manifest: unknown, signature: unknown, trusted: SshPublicKey[]): SignatureVerdict {
  if (typeof signature !== "string") return "unsigned";
  const blob = dearmorSshsig(signature);
  const sig = blob && parseSshsig(blob);
  if (!sig) return "bad-key";
  if (!trusted.some((t) => Buffer.from(t.wire).equals(Buffer.from(sig.publicKey.wire)))) return "untrusted";
  const verdict = verifySshsig(sig, BUNDLE_SIGNATURE_NAMESPACE, signedBytes(manifest));
  if (verdict === "ok" || verdict === "namespace" || verdict === "mismatch") return verdict;
  return verdict === "malformed" ? "bad-key" : "algorithm";
}

/**
 * Decodes a bundle's files as sent (name to base64) against its validated manifest:
 * every file it names present once, canonical base64, matching its sha256, and no file
 * it does not name. Returns the first problem in words (file names only, never bytes).
 *
 * @param manifest - the validated manifest
 * @param files - file name to base64 text, as received
 * @returns the decoded files by name, or the reason they are refused
 */
export function decodeBundleFiles(manifest: BundleManifest, files: Record<string, unknown>): { files: Map<string, Buffer> } | { refused: string } {
  const names = new Set<string>();
  const out = new Map<string, Buffer>();
  for (const s of manifest.secrets) {
    if (names.has(s.name)) return { refused: `secret ${s.name} is listed twice` };
    if (out.has(s.file)) return { refused: `file ${s.file} is named by two secrets` };
    names.add(s.name);
    const text = Object.hasOwn(files, s.file) ? files[s.file] : undefined;
    if (typeof text !== "string") return { refused: `${s.file} is missing` };
    // Only the canonical encoding (re-encoding gives the same text).
    const decoded = decodeB64Padded(text);
    if (decoded === null) return { refused: `${s.file} is not canonical base64` };
    const bytes = Buffer.from(decoded.buffer, decoded.byteOffset, decoded.byteLength);
    if (createHash("sha256").update(bytes).digest("hex") !== s.sha256) return { refused: `${s.file} does not match its sha256 in manifest.json` };
    out.set(s.file, bytes);
  }
  for (const name of Object.keys(files)) {
    if (!out.has(name)) return { refused: `${name} is not named in manifest.json` };
  }
  return { files: out };
}

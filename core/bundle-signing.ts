// A bundle on a nixseal server travels as JSON: its manifest, every .age file it names
// as base64, and optionally the operator's Ed25519 signature over the manifest. The
// operator signs (cli push), the server checks the files but holds no trust
// (server/check-bundle.ts), the agent checks signature and files before it installs
// anything (host-agent/pull/verify.ts). All three read the wire format here, so a
// change to what is signed or how files are encoded is made once.
//
// Not for: deciding trust. verifyBundleSignature says which key signed; which keys an
// agent accepts is the caller's list (--trust-key).
import { createHash, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { decodeB64Padded } from "./age/base64.js";
import type { SshEd25519PrivateKey } from "./keys/ssh-private.js";
import { parseSshPublicKey, type SshPublicKey } from "./keys/ssh-public.js";
import type { BundleManifest } from "./schema/bundle.js";

/**
 * What a signature covers: this context line, then the manifest exactly as
 * JSON.stringify writes it (the server keeps the key order it was sent).
 */
export const BUNDLE_SIGNATURE_CONTEXT = "nixseal-bundle-signature/v1\n";

/** The operator's detached signature over a manifest, as pushed and served. */
export interface BundleSignature {
  /** `ssh-ed25519 AAAA…`: the signing public key. */
  key: string;
  /** Base64 Ed25519 signature over BUNDLE_SIGNATURE_CONTEXT + JSON.stringify(manifest). */
  sig: string;
}

/** Signs manifests with one key. */
export type BundleSigner = (manifest: BundleManifest) => BundleSignature;

function signedBytes(manifest: unknown): Buffer {
  return Buffer.from(BUNDLE_SIGNATURE_CONTEXT + JSON.stringify(manifest));
}

/**
 * Makes a signer from a parsed ssh-ed25519 private key.
 *
 * @param key - the operator's key (core parseSshPrivateKey)
 * @returns a function that signs a manifest as it will be sent
 */
export function bundleSigner(key: SshEd25519PrivateKey): BundleSigner {
  const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  const privateKey = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: b64url(key.seed), x: b64url(key.publicKey.key) }, format: "jwk" });
  const line = `ssh-ed25519 ${Buffer.from(key.publicKey.wire).toString("base64")}`;
  return (manifest) => ({ key: line, sig: sign(null, signedBytes(manifest), privateKey).toString("base64") });
}

/** Why a signature was not accepted; "ok" when it was. */
export type SignatureVerdict = "ok" | "unsigned" | "bad-key" | "untrusted" | "mismatch";

/**
 * Checks a signature over a manifest (as received, unparsed) against trusted keys.
 *
 * @param manifest - the manifest exactly as received (its key order is what was signed)
 * @param signature - the reply's signature field, of any shape
 * @param trusted - the ssh-ed25519 keys whose signatures count
 * @returns "ok", or why not: no signature, not an ssh key, a key not trusted, a bad signature
 */
export function verifyBundleSignature(manifest: unknown, signature: unknown, trusted: SshPublicKey[]): SignatureVerdict {
  const s = signature as { key?: unknown; sig?: unknown } | null | undefined;
  if (typeof s?.key !== "string" || typeof s.sig !== "string") return "unsigned";
  let signer: SshPublicKey;
  try {
    signer = parseSshPublicKey(s.key);
  } catch {
    return "bad-key";
  }
  if (signer.type !== "ssh-ed25519" || !trusted.some((t) => Buffer.from(t.wire).equals(Buffer.from(signer.wire)))) return "untrusted";
  const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(signer.key).toString("base64url") }, format: "jwk" });
  return verify(null, signedBytes(manifest), publicKey, Buffer.from(s.sig, "base64")) ? "ok" : "mismatch";
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

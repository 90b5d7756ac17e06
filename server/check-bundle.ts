// What the server checks before it stores a pushed bundle: the manifest against core's
// schema, the host it names, that the files are exactly the ones it lists, each file's
// sha256, and that each file is an age v1 file (its header parses). Nothing is
// decrypted: the server holds no keys. Errors name files and JSON paths, never bytes.
import { createHash } from "node:crypto";
import { BUNDLE_MANIFEST, NixsealError, bundleManifestSchema, parseHeader, validate, type BundleManifest } from "../core/index.js";
import { serverErrors } from "./errors.js";

/** The operator's detached signature over the manifest (checked by agents, not here). */
export interface BundleSignature {
  /** `ssh-ed25519 AAAA…`: the signing public key. */
  key: string;
  /** Base64 Ed25519 signature. */
  sig: string;
}

/** The PUT body: the manifest as JSON, every file it names as base64, an optional signature. */
export interface PushBody {
  manifest: unknown;
  files: Record<string, string>;
  signature?: BundleSignature;
}

/** Strict base64: only canonical encodings are accepted (re-encoding gives the same text). */
function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}

/**
 * Checks a pushed bundle for host.
 *
 * @returns the manifest (as sent: key order kept, so a signature over it still verifies)
 * and the decoded files, by file name
 * @throws ServerError NIXSEAL_ERR_SERVER_BAD_BUNDLE naming the first problem
 */
export function checkPushedBundle(host: string, body: PushBody): { manifest: BundleManifest; files: Map<string, Buffer> } {
  const reject = (why: string) => serverErrors.badBundle(host, why);
  let manifest: BundleManifest;
  try {
    manifest = validate(bundleManifestSchema, body.manifest, BUNDLE_MANIFEST);
  } catch (err) {
    if (err instanceof NixsealError) throw reject(err.message);
    throw err;
  }
  if (manifest.host !== host) throw reject(`${BUNDLE_MANIFEST} is for host ${manifest.host}`);
  const names = new Set<string>();
  const files = new Map<string, Buffer>();
  for (const s of manifest.secrets) {
    if (names.has(s.name)) throw reject(`secret ${s.name} is listed twice`);
    if (files.has(s.file)) throw reject(`file ${s.file} is named by two secrets`);
    names.add(s.name);
    const text = Object.hasOwn(body.files, s.file) ? body.files[s.file] : undefined;
    if (text === undefined) throw reject(`${s.file} is missing`);
    const bytes = decodeBase64(text);
    if (bytes === undefined) throw reject(`${s.file} is not canonical base64`);
    if (createHash("sha256").update(bytes).digest("hex") !== s.sha256) throw reject(`${s.file} does not match its sha256 in ${BUNDLE_MANIFEST}`);
    try {
      parseHeader(bytes);
    } catch {
      throw reject(`${s.file} is not an age v1 file`);
    }
    files.set(s.file, bytes);
  }
  for (const name of Object.keys(body.files)) {
    if (!files.has(name)) throw reject(`${name} is not named in ${BUNDLE_MANIFEST}`);
  }
  // The schema is strict, so the object as sent holds nothing the validated one does not.
  return { manifest: body.manifest as BundleManifest, files };
}

// What the server checks before it stores a pushed bundle: the manifest against core's
// schema, the host it names, that the files are exactly the ones it lists, each file's
// sha256, and that each file is an age v1 file (its header parses). Nothing is
// decrypted: the server holds no keys. Errors name files and JSON paths, never bytes.
import { BUNDLE_MANIFEST, NixsealError, bundleManifestSchema, parseHeader, validate, type BundleManifest } from "../core/index.js";
import { decodeBundleFiles, type BundleSignature } from "../core/bundle-signing.js";
import { serverErrors } from "./errors.js";

/** The PUT body: the manifest as JSON, every file it names as base64, an optional signature. */
export interface PushBody {
  manifest: unknown;
  files: Record<string, string>;
  signature?: BundleSignature;
}

/**
 * Checks a pushed bundle for host.
 *
 * @returns the manifest (as sent: key order kept, so a signature over it still verifies)
 * and the decoded files, by file name
 * @throws ServerError NIXSEAL_ERR_SERVER_BAD_BUNDLE naming the first problem
 */
export function checkPushedBundle(host: string, body: PushBody): { manifest: BundleManifest; files: Map<string, Buffer> } {
  const reject = (why: string) => serverErrors.badBundle([host, why]);
  let manifest: BundleManifest;
  try {
    manifest = validate(bundleManifestSchema, body.manifest, BUNDLE_MANIFEST);
  } catch (err) {
    if (err instanceof NixsealError) throw reject(err.message);
    throw err;
  }
  if (manifest.host !== host) throw reject(`${BUNDLE_MANIFEST} is for host ${manifest.host}`);
  const decoded = decodeBundleFiles(manifest, body.files);
  if ("refused" in decoded) throw reject(decoded.refused);
  for (const [file, bytes] of decoded.files) {
    try {
      parseHeader(bytes);
    } catch {
      throw reject(`${file} is not an age v1 file`);
    }
  }
  // The schema is strict, so the object as sent holds nothing the validated one does not.
  return { manifest: body.manifest as BundleManifest, files: decoded.files };
}

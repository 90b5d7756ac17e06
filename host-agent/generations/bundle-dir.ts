// Reads a bundle directory (an upload, or a generation at rest): manifest.json checked
// against the shared zod schema, then each .age file read without following symlinks
// and checked against its sha256. Nothing is decrypted here.
//
// Boot path: a generation stored by the agent carries a seal, the sha256 of the exact
// manifest bytes it validated with zod. When the seal matches, the manifest is used
// without loading zod again (~50 ms of CPU at every boot); any mismatch (damage,
// a hand edit) sends it through the full schema.
import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { NixsealError } from "../../core/errors.js";
import { BUNDLE_MANIFEST, HOST_PATHS } from "../../core/on-host.js";
import type { BundleManifest, BundleSecret, BundleTemplate } from "../../core/schema/bundle.js";
import { errors, type AgentError } from "../errors.js";

/** The seal of a stored generation's manifest: its sha256 in hex. */
export const MANIFEST_SEAL = ".manifest.sha256";

export interface BundleEntry {
  secret: BundleSecret;
  /** The ciphertext, present when it was read and matched its sha256. */
  blob?: Buffer;
  /** Why the blob is unusable (missing, not a regular file, checksum mismatch). */
  error?: AgentError;
}

/** A template of the bundle: its text, or why it is unusable. */
export interface TemplateEntry {
  template: BundleTemplate;
  text?: Buffer;
  error?: AgentError;
}

export interface BundleDir {
  dir: string;
  manifest: BundleManifest;
  entries: BundleEntry[];
  templates: TemplateEntry[];
}

/** Reads a regular file, refusing a symlink at the last component (O_NOFOLLOW). */
export function readRegularFile(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") throw errors.plantedSymlink([file], { cause: err });
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw errors.plantedSymlink([file]);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** Hex SHA-256 of some bytes. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function sealOf(dir: string): string | undefined {
  try {
    return readRegularFile(join(dir, MANIFEST_SEAL)).toString("utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * Reads and checks the manifest only.
 *
 * @throws AgentError bundleInvalid when manifest.json is missing, not JSON, not of the schema,
 * or names a secret or file twice
 */
export async function readManifest(dir: string): Promise<BundleManifest> {
  let manifest: BundleManifest;
  try {
    const bytes = readRegularFile(join(dir, BUNDLE_MANIFEST));
    if (sealOf(dir) === sha256Hex(bytes)) {
      manifest = JSON.parse(bytes.toString("utf8")) as BundleManifest;
    } else {
      const [{ bundleManifestSchema }, { parseJsonText, validate }] = await Promise.all([import("../../core/schema/bundle.js"), import("../../core/schema/parse.js")]);
      manifest = validate(bundleManifestSchema, parseJsonText(bytes.toString("utf8"), BUNDLE_MANIFEST), BUNDLE_MANIFEST);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw errors.bundleInvalid([dir, "manifest.json is missing"], { cause: err });
    if (code === "EACCES" || code === "EPERM") {
      throw errors.bundleInvalid([dir, "manifest.json cannot be read (permission denied)"], {
        cause: err,
        hints: [`the agent service is sandboxed: /root, /home and /tmp are hidden from it; upload bundles under ${HOST_PATHS.staging}/ (nixseal-agent import run from a root shell reads any directory)`],
      });
    }
    if (err instanceof NixsealError && err.code !== "NIXSEAL_ERR_INVALID_FILE") throw err;
    throw errors.bundleInvalid([dir, err instanceof Error ? err.message : String(err)], { cause: err });
  }
  const names = new Set<string>();
  const files = new Set<string>();
  for (const s of [...manifest.secrets, ...(manifest.templates ?? [])]) {
    if (names.has(s.name)) throw errors.bundleInvalid([dir, `'${s.name}' is listed twice (secrets and templates share names)`]);
    if (files.has(s.file)) throw errors.bundleInvalid([dir, `file ${s.file} is named twice`]);
    names.add(s.name);
    files.add(s.file);
  }
  const secretNames = new Set(manifest.secrets.map((s) => s.name));
  for (const t of manifest.templates ?? []) {
    const missing = t.uses.find((u) => !secretNames.has(u));
    if (missing) throw errors.bundleInvalid([dir, `template '${t.name}' uses '${missing}', which is not a secret of the bundle`]);
  }
  return manifest;
}

/**
 * Reads a bundle dir: the manifest (a bad one throws) and every blob (a bad blob is
 * recorded on its entry, so boot-time restore can skip it and restore the others).
 *
 * @param onManifest - called once the manifest is good, before the blobs are read
 */
export async function readBundleDir(dir: string, onManifest?: (m: BundleManifest) => void): Promise<BundleDir> {
  const manifest = await readManifest(dir);
  onManifest?.(manifest);
  const entries = manifest.secrets.map((secret): BundleEntry => {
    const r = readChecked(dir, secret.file, secret.sha256);
    return "error" in r ? { secret, error: r.error } : { secret, blob: r.bytes };
  });
  const templates = (manifest.templates ?? []).map((template): TemplateEntry => {
    const r = readChecked(dir, template.file, template.sha256);
    return "error" in r ? { template, error: r.error } : { template, text: r.bytes };
  });
  return { dir, manifest, entries, templates };
}

/** One file of the bundle, if it is there and matches its sha256. */
function readChecked(dir: string, file: string, sha256: string): { bytes: Buffer } | { error: AgentError } {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(join(dir, file));
  } catch (err) {
    if (err instanceof NixsealError) return { error: err as AgentError };
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? `${file} is missing` : `cannot read ${file}: ${(err as Error).message}`;
    return { error: errors.bundleInvalid([dir, why], { cause: err }) };
  }
  if (sha256Hex(bytes) !== sha256) return { error: errors.checksum([dir, file]) };
  return { bytes };
}

/** Throws the first entry error: for callers that accept a bundle only whole. */
export function requireWhole(bundle: BundleDir): Array<BundleEntry & { blob: Buffer }> {
  for (const e of [...bundle.entries, ...bundle.templates]) if (e.error) throw e.error;
  return bundle.entries as Array<BundleEntry & { blob: Buffer }>;
}

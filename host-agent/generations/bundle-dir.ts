// Reads a bundle directory. Two kinds, told apart by the caller, never by the dir:
//
// - A bundle from outside the agent's store (an upload for stage or import, a pull,
//   `check DIR`): checked whole, once, here: size limits before anything is buffered,
//   the manifest against the shared schema with its id recomputed from its content,
//   exactly the files it names (.age and .tmpl) and nothing else, each file's sha256, every `path`
//   against the directories the agent manages. Nothing is decrypted here.
// - A generation the agent stored itself (stateDir/generations/<n>): it carries a seal,
//   the sha256 of the exact manifest bytes checked when it was stored. When the seal
//   matches, the manifest is used without loading zod again (~50 ms of CPU at every
//   boot); any mismatch (damage, a hand edit) sends it through the full check above.
//   A bad blob is recorded on its entry, so the boot restore can skip it. It may also
//   carry the generation's sealed plaintexts (GENERATION_SEAL, seal.ts), which only the
//   boot restore of a stored generation opens.
import { hash } from "node:crypto";
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { NixsealError } from "../../core/errors.js";
import type { BundleManifest, BundleSecret, BundleTemplate } from "../../core/schema/bundle.js";
import { BUNDLE_LIMITS } from "../../core/schema/limits.js";
import { secretPathProblem } from "../../core/schema/secret-path.js";
import { BUNDLE_MANIFEST, HOST_PATHS } from "../../core/on-host.js";
import { errors, type AgentError } from "../errors.js";

/** The seal of a stored generation's manifest: its sha256 in hex. Never trusted in an upload. */
export const MANIFEST_SEAL = ".manifest.sha256";
/** A stored generation's sealed plaintexts (seal.ts). Never read from an upload. */
export const GENERATION_SEAL = ".sealed.age";

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

/** Every file a manifest names: its secrets' .age files and its templates' .tmpl files. */
function filesOf(manifest: BundleManifest): Array<{ file: string; sha256: string }> {
  return [...manifest.secrets, ...(manifest.templates ?? [])];
}

/** A regular file larger than a limit: refused before it is buffered. */
class TooLarge extends Error {
  readonly size: number;
  constructor(size: number) {
    super("too large");
    this.size = size;
  }
}

/**
 * Reads a regular file, refusing a symlink at the last component (O_NOFOLLOW) and,
 * before allocating, a file over maxBytes.
 *
 * @throws AgentError plantedSymlink for a symlink or a non-regular file; TooLarge; the OS error
 */
export function readRegularFile(file: string, maxBytes: number = BUNDLE_LIMITS.fileBytes): Buffer {
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
    if (st.size > maxBytes) throw new TooLarge(st.size);
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

/** Hex SHA-256 of some bytes (one-shot crypto.hash: no Hash object per file on the boot path). */
export function sha256Hex(data: Uint8Array): string {
  return hash("sha256", data, "hex");
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
}

function sealOf(dir: string): string | undefined {
  try {
    return readRegularFile(join(dir, MANIFEST_SEAL), 128).toString("utf8").trim();
  } catch {
    return undefined;
  }
}

/** The bundleInvalid error for a failure to read or parse manifest.json. */
function manifestError(dir: string, err: unknown): NixsealError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return errors.bundleInvalid([dir, "manifest.json is missing"], { cause: err });
  if (code === "EACCES" || code === "EPERM") {
    return errors.bundleInvalid([dir, "manifest.json cannot be read (permission denied)"], {
      cause: err,
      hints: [`the agent service is sandboxed: /root, /home and /tmp are hidden from it; upload bundles under ${HOST_PATHS.staging}/ (nixseal-agent import run from a root shell reads any directory)`],
    });
  }
  if (err instanceof TooLarge) return errors.bundleInvalid([dir, `manifest.json is ${mib(err.size)}, more than the ${mib(BUNDLE_LIMITS.manifestBytes)} a bundle may hold`]);
  if (err instanceof NixsealError && err.code !== "NIXSEAL_ERR_INVALID_FILE") return err;
  // the catalogue's hint (rebuild and ship again) fits every manifest problem
  return errors.bundleInvalid([dir, err instanceof Error ? err.message : String(err)], { cause: err });
}

/** The full check of a manifest's bytes (core's checkBundleManifest: schema, limits, duplicates, id). */
async function checkManifestBytes(bytes: Buffer): Promise<BundleManifest> {
  const [{ checkBundleManifest }, { parseJsonText }] = await Promise.all([import("../../core/schema/bundle.js"), import("../../core/schema/parse.js")]);
  return checkBundleManifest(parseJsonText(bytes.toString("utf8"), BUNDLE_MANIFEST), BUNDLE_MANIFEST);
}

/**
 * The entries of dir are exactly manifest.json and the files the manifest names (the
 * seals of a copied generation are tolerated and never read as trust).
 *
 * @throws AgentError bundleInvalid naming the first unexpected or missing entry
 */
function checkFileSet(dir: string, manifest: BundleManifest): void {
  const expected = new Set(filesOf(manifest).map((s) => s.file));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw errors.bundleInvalid([dir, `cannot list the directory: ${(err as NodeJS.ErrnoException).code ?? "error"}`], { cause: err });
  }
  const present = new Set(names);
  for (const name of names) {
    if (name === BUNDLE_MANIFEST || name === MANIFEST_SEAL || name === GENERATION_SEAL || expected.has(name)) continue;
    throw errors.bundleInvalid([dir, `${JSON.stringify(name)} is not named in manifest.json (a bundle holds manifest.json and the files it names, nothing else)`], {
      hints: ["remove it, or rebuild the bundle into an empty directory with nixseal bundle HOST --out DIR"],
    });
  }
  for (const file of expected) if (!present.has(file)) throw errors.bundleInvalid([dir, `${file} is missing`]);
}

/**
 * Every secret's `path` against what the agent manages (secret-path.ts).
 *
 * @throws AgentError bundleInvalid naming the secret and why
 */
export function checkSecretPaths(dir: string, manifest: BundleManifest, managed: readonly string[]): void {
  const all = [...manifest.secrets.map((s) => ({ s, what: "secret" })), ...(manifest.templates ?? []).map((s) => ({ s, what: "template" }))];
  for (const { s, what } of all) {
    const problem = s.path === undefined ? undefined : secretPathProblem(s.path, managed);
    if (problem) {
      throw errors.bundleInvalid([dir, `${what} '${s.name}' has path ${JSON.stringify(s.path)}, which cannot be used: ${problem}`], {
        hints: ["choose a path outside nixseal's own directories (nixseal secrets set NAME --path P, or nixseal template set NAME --path P), then bundle again"],
      });
    }
  }
}

/**
 * Every file within the per-file limit and all of them within the total, from their
 * sizes alone, before any is read (readEntries checks again as it reads).
 *
 * @throws AgentError bundleInvalid
 */
function checkSizes(dir: string, manifest: BundleManifest): void {
  let total = 0;
  for (const s of filesOf(manifest)) {
    let size: number;
    try {
      size = lstatSync(join(dir, s.file)).size;
    } catch {
      continue; // readEntries names the problem
    }
    if (size > BUNDLE_LIMITS.fileBytes) throw errors.bundleInvalid([dir, `${s.file} is ${mib(size)}, more than the ${mib(BUNDLE_LIMITS.fileBytes)} one file may hold`]);
    total += size;
    if (total > BUNDLE_LIMITS.totalBytes) throw errors.bundleInvalid([dir, `the files add up to more than the ${mib(BUNDLE_LIMITS.totalBytes)} a bundle may hold`]);
  }
}

/** Reads each named file within the limits and checks its sha256; a bad one is recorded, not thrown. */
function readFiles(dir: string, manifest: BundleManifest): Map<string, { bytes: Buffer } | { error: AgentError }> {
  let total = 0;
  const out = new Map<string, { bytes: Buffer } | { error: AgentError }>();
  for (const { file, sha256 } of filesOf(manifest)) {
    let bytes: Buffer;
    try {
      bytes = readRegularFile(join(dir, file), Math.min(BUNDLE_LIMITS.fileBytes, BUNDLE_LIMITS.totalBytes - total));
    } catch (err) {
      if (err instanceof NixsealError) {
        out.set(file, { error: err as AgentError });
        continue;
      }
      let why: string;
      if (err instanceof TooLarge) why = err.size > BUNDLE_LIMITS.fileBytes ? `${file} is ${mib(err.size)}, more than the ${mib(BUNDLE_LIMITS.fileBytes)} one file may hold` : `the files add up to more than the ${mib(BUNDLE_LIMITS.totalBytes)} a bundle may hold`;
      else why = (err as NodeJS.ErrnoException).code === "ENOENT" ? `${file} is missing` : `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`;
      out.set(file, { error: errors.bundleInvalid([dir, why], { cause: err }) });
      continue;
    }
    total += bytes.length;
    out.set(file, sha256Hex(bytes) !== sha256 ? { error: errors.checksum([dir, file]) } : { bytes });
  }
  return out;
}

function readEntries(dir: string, manifest: BundleManifest): Pick<BundleDir, "entries" | "templates"> {
  const read = readFiles(dir, manifest);
  const entries = manifest.secrets.map((secret): BundleEntry => {
    const r = read.get(secret.file)!;
    return "error" in r ? { secret, error: r.error } : { secret, blob: r.bytes };
  });
  const templates = (manifest.templates ?? []).map((template): TemplateEntry => {
    const r = read.get(template.file)!;
    return "error" in r ? { template, error: r.error } : { template, text: r.bytes };
  });
  return { entries, templates };
}

/** Throws the first entry error: for callers that accept a bundle only whole. */
export function requireWhole(bundle: BundleDir): Array<BundleEntry & { blob: Buffer }> {
  for (const e of [...bundle.entries, ...bundle.templates]) if (e.error) throw e.error;
  return bundle.entries as Array<BundleEntry & { blob: Buffer }>;
}

/**
 * Reads and checks a bundle dir that did not come from the agent's store, whole: a
 * bundle with any problem is refused before anything is stored or changed.
 *
 * @param managed - the agent's own directories and files, which no `path` may touch
 * @returns the bundle, every entry with its blob
 * @throws AgentError bundleInvalid (size, schema, id, file set, path), checksum, plantedSymlink
 */
export async function readBundleUpload(dir: string, managed: readonly string[]): Promise<BundleDir & { entries: Array<BundleEntry & { blob: Buffer }> }> {
  let manifest: BundleManifest;
  try {
    manifest = await checkManifestBytes(readRegularFile(join(dir, BUNDLE_MANIFEST), BUNDLE_LIMITS.manifestBytes));
  } catch (err) {
    throw manifestError(dir, err);
  }
  checkFileSet(dir, manifest);
  checkSecretPaths(dir, manifest, managed);
  checkSizes(dir, manifest);
  const bundle = { dir, manifest, ...readEntries(dir, manifest) };
  return { ...bundle, entries: requireWhole(bundle) };
}

/**
 * Checks a manifest file on its own (`check MANIFEST`): the same check as an upload's,
 * without the files.
 *
 * @throws AgentError bundleInvalid
 */
export async function checkManifestFile(file: string, managed: readonly string[]): Promise<BundleManifest> {
  let manifest: BundleManifest;
  try {
    manifest = await checkManifestBytes(readRegularFile(file, BUNDLE_LIMITS.manifestBytes));
  } catch (err) {
    throw manifestError(file, err);
  }
  checkSecretPaths(file, manifest, managed);
  return manifest;
}

/**
 * The manifest of a generation the agent stored: trusted by its seal, or checked in
 * full when the seal does not match.
 *
 * @throws AgentError bundleInvalid when manifest.json is missing, damaged or fails the check
 */
export async function readStoredManifest(dir: string): Promise<BundleManifest> {
  try {
    const bytes = readRegularFile(join(dir, BUNDLE_MANIFEST), BUNDLE_LIMITS.manifestBytes);
    if (sealOf(dir) === sha256Hex(bytes)) return JSON.parse(bytes.toString("utf8")) as BundleManifest;
    const manifest = await checkManifestBytes(bytes);
    checkFileSet(dir, manifest);
    return manifest;
  } catch (err) {
    throw manifestError(dir, err);
  }
}

/**
 * Reads a generation the agent stored: the manifest (a bad one throws) and every blob
 * (a bad blob is recorded on its entry, so the boot restore can skip it and restore
 * the others).
 *
 * @param onManifest - called once the manifest is good, before the blobs are read
 */
export async function readStoredGeneration(dir: string, onManifest?: (m: BundleManifest) => void): Promise<BundleDir> {
  const manifest = await readStoredManifest(dir);
  onManifest?.(manifest);
  return { dir, manifest, ...readEntries(dir, manifest) };
}

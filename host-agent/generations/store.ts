// Bundles at rest: stateDir/generations/<n>/ (manifest.json + .age files, ciphertext
// only), with `current` and `previous` symlinks flipped atomically, pruned to a count.
import { randomBytes } from "node:crypto";
import { closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { BundleManifest } from "../../core/schema/bundle.js";
import { BUNDLE_MANIFEST } from "../../core/on-host.js";
import { GENERATION_SEAL, MANIFEST_SEAL, readStoredManifest, sha256Hex, type BundleEntry, type TemplateEntry } from "./bundle-dir.js";
import { errors } from "../errors.js";
import { flipSymlink } from "../plaintext/links.js";

const GENERATIONS = "generations";

/** Path of generation n. */
export function generationDir(stateDir: string, n: number): string {
  return join(stateDir, GENERATIONS, String(n));
}

/** Generation numbers present, ascending. */
export function listGenerations(stateDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(join(stateDir, GENERATIONS));
  } catch {
    return [];
  }
  return names.filter((n) => /^[1-9][0-9]{0,8}$/.test(n)).map(Number).sort((a, b) => a - b);
}

/** The generation `current` or `previous` points at, if any. */
export function linkedGeneration(stateDir: string, link: "current" | "previous"): number | undefined {
  try {
    const m = /^generations\/([1-9][0-9]{0,8})$/.exec(readlinkSync(join(stateDir, link)));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeNew(file: string, data: Uint8Array): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The generation already holding this exact bundle (same content id), if any. */
export async function findGenerationById(stateDir: string, id: string): Promise<number | undefined> {
  for (const n of listGenerations(stateDir).reverse()) {
    try {
      if ((await readStoredManifest(generationDir(stateDir, n))).id === id) return n;
    } catch {
      // a damaged generation is never a match
    }
  }
  return undefined;
}

/**
 * Stores a checked bundle as the next generation: written into a temp dir, fsynced,
 * then renamed into place, so a crash leaves no half generation under a number. The
 * manifest is sealed with its sha256, so the boot restore can trust it without
 * loading the schema again (see readStoredManifest).
 *
 * @param seal - the generation's seal (seal.ts), stored with it
 * @returns the new generation number
 */
export function storeGeneration(stateDir: string, manifest: BundleManifest, entries: Array<BundleEntry & { blob: Buffer }>, templates: readonly TemplateEntry[] = [], seal?: Uint8Array): number {
  const root = join(stateDir, GENERATIONS);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  mkdirSync(root, { recursive: true, mode: 0o700 });
  if (!lstatSync(root).isDirectory()) throw errors.plantedSymlink([root]);
  const tmp = join(root, `.tmp-${randomBytes(6).toString("hex")}`);
  mkdirSync(tmp, 0o700);
  try {
    for (const e of entries) writeNew(join(tmp, e.secret.file), e.blob);
    for (const t of templates) writeNew(join(tmp, t.template.file), t.text!);
    const bytes = Buffer.from(JSON.stringify(manifest, null, 2) + "\n");
    writeNew(join(tmp, BUNDLE_MANIFEST), bytes);
    writeNew(join(tmp, MANIFEST_SEAL), Buffer.from(sha256Hex(bytes) + "\n"));
    if (seal) writeNew(join(tmp, GENERATION_SEAL), seal);
    fsyncPath(tmp);
    const n = (listGenerations(stateDir).at(-1) ?? 0) + 1;
    renameSync(tmp, join(root, String(n)));
    fsyncPath(root);
    return n;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Puts a (new) seal into a stored generation: temp file, fsync, rename over the old one. */
export function replaceSeal(stateDir: string, n: number, seal: Uint8Array): void {
  const dir = generationDir(stateDir, n);
  // beside the generations, not in one: pruneGenerations removes what a crash leaves
  const tmp = join(stateDir, GENERATIONS, `.tmp-seal-${randomBytes(6).toString("hex")}`);
  try {
    writeNew(tmp, seal);
    renameSync(tmp, join(dir, GENERATION_SEAL));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncPath(dir);
}

/** Records `current` (and `previous` when given) atomically, then syncs the directory. */
export function setStateLinks(stateDir: string, current: number, previous: number | undefined): void {
  if (previous !== undefined && previous !== current) flipSymlink(join(stateDir, "previous"), `${GENERATIONS}/${previous}`);
  flipSymlink(join(stateDir, "current"), `${GENERATIONS}/${current}`);
  fsyncPath(stateDir);
}

/**
 * Removes all but the newest `keep` generations, never current or previous, and any
 * temp dir an interrupted store left behind.
 *
 * @returns the generations removed
 */
export function pruneGenerations(stateDir: string, keep: number): number[] {
  const protect = new Set([linkedGeneration(stateDir, "current"), linkedGeneration(stateDir, "previous")]);
  const all = listGenerations(stateDir);
  const drop = all.slice(0, Math.max(0, all.length - keep)).filter((n) => !protect.has(n));
  for (const n of drop) rmSync(generationDir(stateDir, n), { recursive: true, force: true });
  try {
    for (const name of readdirSync(join(stateDir, GENERATIONS))) {
      if (name.startsWith(".tmp-")) rmSync(join(stateDir, GENERATIONS, name), { recursive: true, force: true });
    }
  } catch {
    // no generations dir
  }
  return drop;
}

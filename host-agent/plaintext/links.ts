// Symlinks that make the live generation visible: runDir/current, /run/keys (one link,
// or per-name links when /run/keys is a directory, as NixOS mounts it) and each
// Secret.path. Every link is made as a temp symlink renamed over the old one: atomic,
// and a rename replaces a planted symlink instead of writing through it.
import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, symlinkSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { BundleSecret } from "../../core/schema/bundle.js";
import { errors } from "../errors.js";
import { CURRENT, type SecretResult } from "./materialize.js";

/**
 * Points `link` at `target` atomically (temp symlink + rename in the same directory).
 *
 * @throws AgentError plantedSymlink when a directory or file that is not a symlink is in the way
 */
export function flipSymlink(link: string, target: string): void {
  const tmp = join(dirname(link), `.${basename(link)}.${randomBytes(6).toString("hex")}.tmp`);
  symlinkSync(target, tmp);
  try {
    const st = lstatOrUndefined(link);
    if (st && !st.isSymbolicLink()) throw errors.plantedSymlink([link]);
    renameSync(tmp, link);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or gone
    }
    throw err;
  }
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Flips runDir/current to the generation directory `name` (relative link). */
export function flipCurrent(runDir: string, name: string): void {
  flipSymlink(join(runDir, CURRENT), name);
}

/**
 * The links that must exist before the flip (so a new name resolves the moment
 * `current` flips): in a keys directory, one link per name not linked yet.
 */
export function linkKeysBeforeFlip(keysDir: string, runDir: string, names: readonly string[], results: Map<string, SecretResult>): void {
  const st = lstatOrUndefined(keysDir);
  if (!st?.isDirectory()) return;
  const live = join(runDir, CURRENT);
  for (const name of names) {
    const link = join(keysDir, name);
    if (readlinkOrUndefined(link) === join(live, name)) continue;
    try {
      flipSymlink(link, join(live, name));
    } catch (err) {
      markLinkFailure(results, name, link, err);
    }
  }
}

/**
 * After the flip: /run/keys as one link to runDir/current when absent (or a symlink
 * elsewhere); in a keys directory, removes our links for names that are gone.
 */
export function linkKeysAfterFlip(keysDir: string, runDir: string, names: readonly string[]): void {
  const live = join(runDir, CURRENT);
  const st = lstatOrUndefined(keysDir);
  if (!st || st.isSymbolicLink()) {
    if (readlinkOrUndefined(keysDir) !== live) {
      mkdirSync(dirname(keysDir), { recursive: true });
      flipSymlink(keysDir, live);
    }
    return;
  }
  if (!st.isDirectory()) return;
  const keep = new Set(names);
  for (const entry of readdirSync(keysDir)) {
    if (keep.has(entry)) continue;
    const link = join(keysDir, entry);
    if (readlinkOrUndefined(link) === join(live, entry)) unlinkSync(link);
  }
}

/**
 * Secret.path links to runDir/current/<name>; stale links of the replaced generation
 * (a path that moved or a secret that left) are removed when they are still ours.
 */
export function linkPaths(runDir: string, secrets: readonly BundleSecret[], oldSecrets: readonly BundleSecret[], results: Map<string, SecretResult>): void {
  const live = join(runDir, CURRENT);
  const wanted = new Map(secrets.filter((s) => s.path).map((s) => [s.path!, s.name]));
  for (const old of oldSecrets) {
    if (!old.path || wanted.get(old.path) === old.name) continue;
    if (readlinkOrUndefined(old.path) === join(live, old.name)) {
      try {
        unlinkSync(old.path);
      } catch {
        // gone already
      }
    }
  }
  for (const [path, name] of wanted) {
    if (readlinkOrUndefined(path) === join(live, name)) continue;
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      flipSymlink(path, join(live, name));
    } catch (err) {
      markLinkFailure(results, name, path, err);
    }
  }
}

function markLinkFailure(results: Map<string, SecretResult>, name: string, link: string, err: unknown): void {
  const why = (err as { code?: string }).code === "NIXSEAL_ERR_AGENT_PLANTED_SYMLINK" ? "something that is not a symlink is in the way" : ((err as NodeJS.ErrnoException).code ?? "failed");
  const e = errors.link([name, link, why], { cause: err });
  const r = results.get(name);
  if (r) Object.assign(r, { ok: false, code: e.code, error: e.message, hints: e.hints });
}

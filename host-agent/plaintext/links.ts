// Symlinks that make the live generation visible: runDir/current, /run/keys (one link,
// or per-name links when /run/keys is a directory, as NixOS mounts it) and each
// Secret.path. Every link is made as a temp symlink renamed over the old one: atomic,
// and a rename replaces a planted symlink instead of writing through it. Secret.path
// links are reached through safe-path.ts (no symlink, no directory another user owns).
import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, symlinkSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { BundleSecret } from "../../core/schema/bundle.js";
import { secretPathProblem } from "../../core/schema/secret-path.js";
import type { NixsealError } from "../../core/errors.js";
import { errors } from "../errors.js";
import { CURRENT, type SecretResult } from "./materialize.js";
import { openParent, UnsafePathError } from "./safe-path.js";

/**
 * Points `base` inside the directory `parent` at `target` atomically (temp symlink +
 * rename in that directory). `parent` is a path, or a held directory's /proc/self/fd name.
 *
 * @param shown - the link's path for messages
 * @throws AgentError plantedSymlink when a directory or file that is not a symlink is in the way
 */
function flipIn(parent: string, base: string, target: string, shown: string): void {
  const tmp = join(parent, `.${base}.${randomBytes(6).toString("hex")}.tmp`);
  symlinkSync(target, tmp);
  try {
    const st = lstatOrUndefined(join(parent, base));
    if (st && !st.isSymbolicLink()) throw errors.plantedSymlink([shown]);
    renameSync(tmp, join(parent, base));
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or gone
    }
    throw err;
  }
}

/**
 * Points `link` at `target` atomically, in a directory the agent manages.
 *
 * @throws AgentError plantedSymlink when a directory or file that is not a symlink is in the way
 */
export function flipSymlink(link: string, target: string): void {
  flipIn(dirname(link), basename(link), target, link);
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

/** What the keys dir is: not there yet, our link to runDir/current, or a directory of per-name links. */
export type KeysDirKind = "absent" | "link" | "directory";

/**
 * The keys dir policy, checked before anything changes: absent (made a link after the
 * flip), a symlink to runDir/current, or a directory that only root can write (NixOS's
 * /run/keys). Anything else is refused, never replaced or ignored.
 *
 * @throws AgentError keysDir naming what is there
 */
export function checkKeysDir(keysDir: string, runDir: string): KeysDirKind {
  const st = lstatOrUndefined(keysDir);
  if (!st) return "absent";
  const live = join(runDir, CURRENT);
  if (st.isSymbolicLink()) {
    const target = readlinkOrUndefined(keysDir);
    if (target === live) return "link";
    throw errors.keysDir([keysDir, `is a symlink to ${JSON.stringify(target ?? "?")}, not to ${live}`]);
  }
  if (!st.isDirectory()) throw errors.keysDir([keysDir, "is neither a directory nor a symlink"]);
  const uid = process.geteuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== uid) throw errors.keysDir([keysDir, `is a directory of uid ${st.uid}, not root's`]);
  if ((st.mode & 0o022) !== 0) throw errors.keysDir([keysDir, "is a directory that its group or others can write"]);
  return "directory";
}

/**
 * The links that must exist before the flip (so a new name resolves the moment
 * `current` flips): in a keys directory, one link per name not linked yet.
 */
export function linkKeysBeforeFlip(keysDir: string, kind: KeysDirKind, runDir: string, names: readonly string[], results: Map<string, SecretResult>): void {
  if (kind !== "directory") return;
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
 * After the flip: the keys dir as one link to runDir/current when absent; in a keys
 * directory, removes our links for names that are gone.
 */
export function linkKeysAfterFlip(keysDir: string, kind: KeysDirKind, runDir: string, names: readonly string[]): void {
  const live = join(runDir, CURRENT);
  if (kind === "absent") {
    mkdirSync(dirname(keysDir), { recursive: true });
    flipSymlink(keysDir, live);
    return;
  }
  if (kind !== "directory") return;
  const keep = new Set(names);
  for (const entry of readdirSync(keysDir)) {
    if (keep.has(entry)) continue;
    const link = join(keysDir, entry);
    if (readlinkOrUndefined(link) === join(live, entry)) unlinkSync(link);
  }
}

/**
 * Secret.path links to runDir/current/<name>; stale links of the replaced generation
 * (a path that moved or a secret that left) are removed when they are still ours. A
 * path that breaks the path policy, is claimed twice, or is reached through a symlink
 * or another user's directory fails that secret's link; nothing is made there.
 *
 * @param managed - the agent's own paths (config.ts managedPaths)
 */
export function linkPaths(runDir: string, secrets: readonly BundleSecret[], oldSecrets: readonly BundleSecret[], results: Map<string, SecretResult>, managed: readonly string[]): void {
  const live = join(runDir, CURRENT);
  const wanted = new Map<string, string>();
  for (const s of secrets) {
    if (!s.path) continue;
    // a stored generation is read without the schema at boot: the policy is checked here too
    const problem = secretPathProblem(s.path, managed) ?? (wanted.has(s.path) ? `it is also the path of secret '${wanted.get(s.path)}'` : undefined);
    if (problem) markLinkFailure(results, s.name, s.path, new UnsafePathError(problem));
    else wanted.set(s.path, s.name);
  }
  for (const old of oldSecrets) {
    if (!old.path || wanted.get(old.path) === old.name || secretPathProblem(old.path, managed)) continue;
    removeOurLink(old.path, join(live, old.name));
  }
  for (const [path, name] of wanted) {
    try {
      const held = openParent(path, true)!;
      try {
        if (readlinkOrUndefined(held.dir.at(held.base)) !== join(live, name)) flipIn(held.dir.at(""), held.base, join(live, name), path);
      } finally {
        held.dir.close();
      }
    } catch (err) {
      markLinkFailure(results, name, path, err);
    }
  }
}

/** Removes a link that still points where we made it point; anything else stays. */
function removeOurLink(path: string, target: string): void {
  let held;
  try {
    held = openParent(path, false);
  } catch {
    return; // not reachable safely: not ours to touch
  }
  if (!held) return;
  try {
    if (readlinkOrUndefined(held.dir.at(held.base)) === target) unlinkSync(held.dir.at(held.base));
  } catch {
    // gone already
  } finally {
    held.dir.close();
  }
}

/** What to do about a directory on the way that is not safe to walk. */
const UNSAFE_DIR_HINTS = [
  "give that directory to root without group or other write (chown root DIR; chmod go-w DIR), or choose a path under root's directories: nixseal secrets set NAME --path P (a template: nixseal template set NAME --path P)",
];

/**
 * Before anything changes (stage, import, check): the directories that already exist on
 * the way to `path` can be walked safely; linkPaths walks them again when it makes the
 * link, creating what is missing.
 *
 * @returns the link error naming the directory, or undefined (an OS error is left to linkPaths)
 */
export function pathWalkProblem(name: string, path: string): NixsealError | undefined {
  try {
    openParent(path, false)?.dir.close();
    return undefined;
  } catch (err) {
    return err instanceof UnsafePathError ? errors.link([name, path, err.message], { cause: err, hints: UNSAFE_DIR_HINTS }) : undefined;
  }
}

function markLinkFailure(results: Map<string, SecretResult>, name: string, link: string, err: unknown): void {
  const why =
    err instanceof UnsafePathError
      ? err.message
      : (err as { code?: string }).code === "NIXSEAL_ERR_AGENT_PLANTED_SYMLINK"
        ? "something that is not a symlink is in the way"
        : ((err as NodeJS.ErrnoException).code ?? "failed");
  const e = errors.link([name, link, why], { cause: err, ...(err instanceof UnsafePathError ? { hints: UNSAFE_DIR_HINTS } : {}) });
  const r = results.get(name);
  if (r) Object.assign(r, { ok: false, code: e.code, error: e.message, hints: e.hints });
}

// Walking to a secret's `path` as root without being redirected. Node has no openat(2),
// so the walk holds each directory open and names the next component through
// /proc/self/fd/<fd>/<name>: the kernel resolves that relative to the very directory
// held (openat semantics), and O_NOFOLLOW|O_DIRECTORY refuses a symlink or a file at
// each step. Every directory the walk goes through (each one whose entry it opens or
// creates) must belong to root (or the agent's own user) and be writable by nobody
// else, unless sticky (as /tmp): otherwise its owner could swap a component between
// the check and the rename and send the link elsewhere. The directory that holds the
// link may belong to anyone (a service's own /var/lib/<name>): its parents are root's,
// so nobody can swap it, and the link is made and renamed inside the held directory
// without following anything; it still may not be writable by its group or others.
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync } from "node:fs";

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** Why a path cannot be walked safely; the message names the directory, never a value. */
export class UnsafePathError extends Error {
  override name = "UnsafePathError";
}

/** A directory held open: `at(name)` names an entry of exactly this directory. */
interface HeldDir {
  /** The path it was reached by (for messages). */
  path: string;
  at(name: string): string;
  close(): void;
}

function hold(fd: number, path: string): HeldDir {
  return {
    path,
    at: (name) => `/proc/self/fd/${fd}/${name}`,
    close: () => closeSync(fd),
  };
}

/** Root, or the agent's own user when it runs as another (tests). */
const trustedUid = (): number => process.geteuid?.() ?? 0;

/** A directory the walk goes through: root's (or ours), and only its owner may change it. */
function checkTrusted(fd: number, path: string): void {
  const st = fstatSync(fd);
  if (st.uid !== 0 && st.uid !== trustedUid()) throw new UnsafePathError(`${path} belongs to uid ${st.uid}, not root: its owner could redirect the link`);
  checkNotShared(st.mode, path);
}

/** Writable by its group or others (and not sticky): they could replace what is made in it. */
function checkNotShared(mode: number, path: string): void {
  if ((mode & 0o022) !== 0 && (mode & 0o1000) === 0) throw new UnsafePathError(`${path} is writable by its group or others: they could redirect the link`);
}

/**
 * Opens the parent directory of an absolute, normalised path, one component at a time
 * from "/", never following a symlink; missing directories are created (0755, root's)
 * when `create` is set.
 *
 * @param path - absolute and normalised (core secretPathSyntaxProblem holds)
 * @returns the held parent and the last component; undefined when a directory is missing and create is off
 * @throws UnsafePathError for a symlink, a non-directory or an untrusted directory on the way
 */
export function openParent(path: string, create: boolean): { dir: HeldDir; base: string } | undefined {
  const parts = path.split("/").slice(1);
  const base = parts.pop()!;
  let fd = openSync("/", DIR_FLAGS);
  let at = "";
  try {
    for (const part of parts) {
      // this directory's entry is opened (or made) next: only root may be able to change it
      checkTrusted(fd, at || "/");
      const next = `${at}/${part}`;
      const entry = `/proc/self/fd/${fd}/${part}`;
      let child: number;
      try {
        child = openSync(entry, DIR_FLAGS);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // O_DIRECTORY with O_NOFOLLOW answers ENOTDIR for a symlink too: tell them apart
        const symlink = code === "ELOOP" || (code === "ENOTDIR" && lstatSync(entry).isSymbolicLink());
        if (symlink) throw new UnsafePathError(`${next} is a symlink: links are made only through real directories`);
        if (code === "ENOTDIR") throw new UnsafePathError(`${next} is not a directory`);
        if (code !== "ENOENT") throw err;
        if (!create) {
          closeSync(fd);
          return undefined;
        }
        try {
          mkdirSync(entry, 0o755);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        child = openSync(entry, DIR_FLAGS);
        // the unit's UMask=0077 would leave it 0700: services must traverse it to the link
        if (fstatSync(child).uid === trustedUid()) fchmodSync(child, 0o755);
      }
      closeSync(fd);
      fd = child;
      at = next;
    }
    // the link's own directory: any owner, but nobody else may write in it
    checkNotShared(fstatSync(fd).mode, at || "/");
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { dir: hold(fd, at || "/"), base };
}

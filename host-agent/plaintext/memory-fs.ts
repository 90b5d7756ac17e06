// The one memory-filesystem policy for the run dir, where plaintext lives: a mount of
// its own (not a directory on a shared tmpfs such as /dev/shm), of type ramfs (never
// swaps) or tmpfs mounted `noswap` (kernel >= 6.4); a tmpfs that may swap only when
// the config says allowSwappableTmpfs. `status` reports the same facts.
import { lstatSync, readFileSync, realpathSync, statSync, statfsSync } from "node:fs";
import type { MemoryFsStatus } from "../../core/agent-api.js";
import { errors } from "../errors.js";

/** statfs f_type of the memory filesystems plaintext may live on. */
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** Undoes mountinfo's octal escapes (\040 for a space, \012 for a newline, …). */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mountinfo line of the filesystem holding `real` (a resolved path) on device dev. */
function mountOf(real: string, dev: string): { mountPoint: string; fsType: string; superOptions: string[] } | undefined {
  let found: { mountPoint: string; fsType: string; superOptions: string[] } | undefined;
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    if (sep < 0 || f[2] !== dev) continue;
    const mountPoint = unescapeMountPath(f[4]!);
    const inside = real === mountPoint || mountPoint === "/" || real.startsWith(mountPoint + "/");
    // the deepest match wins; at the same point, the later line is the mount on top
    if (inside && (!found || mountPoint.length >= found.mountPoint.length)) {
      found = { mountPoint, fsType: f[sep + 1]!, superOptions: (f[sep + 3] ?? "").split(",") };
    }
  }
  return found;
}

/**
 * What holds dir: its filesystem type, its mount point, whether it swaps.
 *
 * @param dir - an existing directory (missing: type "missing")
 */
export function memoryFsOf(dir: string): MemoryFsStatus {
  let real: string;
  let dev: string;
  let fsMagic: number;
  try {
    real = realpathSync(dir);
    const st = statSync(real, { bigint: true });
    // Linux's dev_t: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31
    const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & 0xfffff000n);
    const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & 0xffffff00n);
    dev = `${major}:${minor}`;
    fsMagic = statfsSync(real).type;
  } catch {
    return { type: "missing", isMountPoint: false, noswap: false };
  }
  const type = fsMagic === TMPFS_MAGIC ? "tmpfs" : fsMagic === RAMFS_MAGIC ? "ramfs" : "other";
  const mount = mountOf(real, dev);
  const noswap = type === "ramfs" || (type === "tmpfs" && mount !== undefined && mount.superOptions.includes("noswap"));
  return { type, mountPoint: mount?.mountPoint, isMountPoint: mount?.mountPoint === real, noswap };
}

/**
 * The run dir policy: a real directory (not a symlink) and, when required, a mount of
 * its own, ramfs or tmpfs with noswap (a swappable tmpfs only with allowSwappableTmpfs).
 *
 * @throws AgentError plantedSymlink, notMemoryFs, notOwnMount, swappableTmpfs
 */
export function checkRunDir(runDir: string, policy: { requireMemoryFs: boolean; allowSwappableTmpfs: boolean }): void {
  let st;
  try {
    st = lstatSync(runDir);
  } catch (err) {
    throw errors.notMemoryFs([runDir], { cause: err });
  }
  if (!st.isDirectory()) throw errors.plantedSymlink([runDir]);
  if (!policy.requireMemoryFs) return;
  const fs = memoryFsOf(runDir);
  if (fs.type !== "tmpfs" && fs.type !== "ramfs") throw errors.notMemoryFs([runDir]);
  if (!fs.isMountPoint) throw errors.notOwnMount([runDir, fs.type, fs.mountPoint ?? "?"]);
  if (!fs.noswap && !policy.allowSwappableTmpfs) throw errors.swappableTmpfs([runDir]);
}

// Who is writing a SQLite file right now, read from the kernel's lock table
// (/proc/locks) instead of from SQLite itself: asking SQLite would open the
// original, which the importer never does. SQLite's unix VFS takes POSIX byte-range
// locks at fixed offsets: a writer in rollback-journal mode holds the RESERVED or
// PENDING byte of the database file; in WAL mode it holds the WRITE (or CHECKPOINT,
// RECOVER) byte of the -shm file.
import { readFile, stat } from "node:fs/promises";

const PENDING_BYTE = 0x40000000;
const RESERVED_BYTE = PENDING_BYTE + 1;
const WAL_LOCK_OFFSET = 120; // WAL_WRITE_LOCK; +1 checkpoint, +2 recover

/** A write lock someone holds on a file. */
interface HeldLock {
  file: string;
  pid: number;
}

/** major:minor:inode as /proc/locks prints it (major and minor in hex). */
function lockId(dev: number, ino: number): string {
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 0x1000) & ~0xff);
  return `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}:${ino}`;
}

/**
 * The writers holding the database (or its -shm) locked, on Linux; an empty list
 * where the kernel's lock table cannot be read (then the caller's before/after
 * comparison of the files is the only guard).
 *
 * @param dbFile - the SQLite database file
 * @returns one entry per write lock that means "a transaction is writing"
 */
export async function sqliteWriters(dbFile: string): Promise<HeldLock[]> {
  let table: string;
  try {
    table = await readFile("/proc/locks", "utf8");
  } catch {
    return [];
  }
  const watched = new Map<string, { file: string; bytes: number[] }>();
  for (const [file, bytes] of [
    [dbFile, [PENDING_BYTE, RESERVED_BYTE]],
    [`${dbFile}-shm`, [WAL_LOCK_OFFSET, WAL_LOCK_OFFSET + 1, WAL_LOCK_OFFSET + 2]],
  ] as const) {
    try {
      const st = await stat(file);
      watched.set(lockId(st.dev, st.ino), { file, bytes: [...bytes] });
    } catch {
      // no such file: nobody can hold it
    }
  }
  const held: HeldLock[] = [];
  for (const line of table.split("\n")) {
    // "3: POSIX  ADVISORY  WRITE 4242 00:2f:1234 1073741825 1073741825" (blocked waiters have "->")
    const m = /^\d+:\s+(?:->\s+)?(POSIX|OFDLCK)\s+\S+\s+WRITE\s+(-?\d+)\s+([0-9a-f]+:[0-9a-f]+:\d+)\s+(\d+)\s+(\d+|EOF)\s*$/.exec(line);
    if (!m || line.includes("->")) continue;
    const w = watched.get(m[3]!);
    if (!w) continue;
    const start = Number(m[4]);
    const end = m[5] === "EOF" ? Infinity : Number(m[5]);
    if (w.bytes.some((b) => b >= start && b <= end)) held.push({ file: w.file, pid: Number(m[2]) });
  }
  return held;
}

import { randomBytes } from "node:crypto";
import { mkdtemp, open, rename, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

/**
 * Writes a file through temp + fsync + rename in the same directory, so a reader
 * or a crash sees the old file or the new one, whole, never a mix.
 *
 * @param file - destination path
 * @param data - contents
 * @param mode - permission bits for the new file (default 0o644)
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Runs fn with a fresh private (0700) directory that is removed afterwards,
 * whatever the outcome.
 *
 * @param fn - work to do in the directory
 * @param parent - where to create it (default the OS temp dir; prefer a tmpfs for cleartext)
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, parent = tmpdir()): Promise<T> {
  const dir = await mkdtemp(join(parent, "nixseal-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

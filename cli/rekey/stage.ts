import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Many files replaced as one step, as far as a file system allows: each new
 * file is written and fsynced to a temp name next to its target as soon as it
 * is ready (overlapping with the work that produces the rest), and only when
 * every one is staged are they renamed into place. Abort removes the temps,
 * leaving every target as it was.
 */
export class StagedFiles {
  private readonly staged: { tmp: string; target: string }[] = [];
  private readonly pending: Promise<void>[] = [];

  /** Starts writing data for target; errors surface in commit(). */
  add(target: string, data: Uint8Array, mode = 0o644): void {
    const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
    this.pending.push(
      (async () => {
        const fh = await open(tmp, "wx", mode);
        this.staged.push({ tmp, target });
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
      })(),
    );
  }

  /** Waits for every write, then renames each temp over its target. */
  async commit(): Promise<void> {
    await Promise.all(this.pending);
    for (const { tmp, target } of this.staged) await rename(tmp, target);
    this.staged.length = 0;
  }

  /** Removes whatever was staged; targets stay untouched. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.pending);
    await Promise.all(this.staged.map(({ tmp }) => unlink(tmp).catch(() => {})));
    this.staged.length = 0;
  }
}

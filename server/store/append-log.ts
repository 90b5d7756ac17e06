// A file of JSON lines that only grows, for the file store's logs (audit.log,
// fetches.log, claims.log). Lines that arrive while a write is on its way are written
// together after it, then flushed with one fdatasync for all of them (group commit).
// A durable line resolves once it is on disk; any other once it is written (in the
// kernel's page cache: a killed process loses nothing, a crash of the machine may lose
// the last moments' lines). A line cut short by a crash does not end in "}": readers
// skip it, and the next append starts on a new line.
import { open, readFile, type FileHandle } from "node:fs/promises";

interface Pending {
  line: string;
  durable: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Reads a JSON-lines file: every whole line parsed, cut or unparsable lines skipped. */
export async function readJsonLines<T>(path: string): Promise<{ lines: T[]; bytes: number; endsCut: boolean }> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { lines: [], bytes: 0, endsCut: false };
    throw err;
  }
  const lines: T[] = [];
  for (const line of raw.toString("utf8").split("\n")) {
    if (!line.endsWith("}")) continue;
    try {
      lines.push(JSON.parse(line) as T);
    } catch {
      // a damaged line is not an event
    }
  }
  return { lines, bytes: raw.length, endsCut: raw.length > 0 && raw[raw.length - 1] !== 0x0a };
}

export class AppendLog {
  readonly path: string;
  private file: FileHandle | undefined;
  private readonly pending: Pending[] = [];
  private readonly idle: Array<() => void> = [];
  private flushing = false;
  /** A rewrite is under way: new lines wait for the new file. */
  private holding: Promise<void> | undefined;
  /** Bytes in the file (what was there at open plus what was written since). */
  size = 0;

  constructor(path: string) {
    this.path = path;
  }

  /** Opens for appending (created 0600); a last line cut short is ended first. */
  async open(existing: { bytes: number; endsCut: boolean }): Promise<void> {
    this.file = await open(this.path, "a", 0o600);
    this.size = existing.bytes;
    if (existing.endsCut) {
      await this.file.write("\n");
      this.size++;
    }
  }

  /** Appends one JSON line; see the file comment for when it resolves. */
  append(value: unknown, durable = false): Promise<void> {
    return this.appendLines([JSON.stringify(value) + "\n"], durable);
  }

  /** Appends several lines, written in one go. */
  appendLines(lines: string[], durable = false): Promise<void> {
    if (!this.file) return Promise.reject(new Error(`${this.path} is not open`));
    return new Promise((resolve, reject) => {
      this.pending.push({ line: lines.join(""), durable, resolve, reject });
      if (!this.flushing && !this.holding) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length && !this.holding) {
      const batch = this.pending.splice(0);
      try {
        const text = batch.map((b) => b.line).join("");
        await this.file!.write(text);
        this.size += Buffer.byteLength(text);
        for (const b of batch) if (!b.durable) b.resolve();
        await this.file!.datasync();
        for (const b of batch) if (b.durable) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = false;
    for (const r of this.idle.splice(0)) r();
  }

  /** Resolves once every line appended so far is on disk. */
  settled(): Promise<void> {
    return this.flushing ? new Promise((resolve) => this.idle.push(resolve)) : Promise.resolve();
  }

  /**
   * Replaces the file's content with what `snapshot` returns (temp + fsync + rename by
   * `write`), then appends to the new file. The snapshot is taken at once; lines
   * appended from then on wait and go to the new file, so none is lost whichever file
   * they would have reached.
   */
  async rewrite(snapshot: () => string[], write: (path: string, text: string) => Promise<void>): Promise<void> {
    while (this.holding) await this.holding;
    let done!: () => void;
    this.holding = new Promise((resolve) => (done = resolve));
    try {
      const text = snapshot().join("");
      await this.settled();
      await write(this.path, text);
      await this.file?.close();
      this.file = await open(this.path, "a", 0o600);
      this.size = Buffer.byteLength(text);
    } finally {
      this.holding = undefined;
      if (this.pending.length && !this.flushing) void this.flush();
      done();
    }
  }

  async close(): Promise<void> {
    while (this.holding) await this.holding;
    await this.settled();
    await this.file?.close();
    this.file = undefined;
  }
}

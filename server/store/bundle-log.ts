// DIR/bundles.log: every bundle the file store holds, one frame per stored bundle,
// appended and never changed. Bundles that arrive together (one batch upload, or
// uploads that overlap) are written with one write and made durable with one
// fdatasync; only then do they become heads, so readers see a host's previous head or
// its new one, whole. Creating files is what a per-object layout pays for each bundle
// (on ext4 it costs a millisecond and more under load); an append costs microseconds.
//
//   frame = "NXB1" | u32 header length | u32 data length | sha256(header) | header | data
//   header = JSON { host, id, sequence, pushedAt, manifest (the JSON text as pushed),
//                   signature?, inline: [[sha256, offset in data, length]...],
//                   refs: [[sha256, position in the log, length]...] }
//
// A file is stored once: one the log already holds (the same sha256, e.g. a secret
// encrypted once to every host that shares it) is referenced, not copied. At open the log is read frame by frame (headers only) into an index; a frame
// cut short by a crash at the end is cut off, damage anywhere else stops the start with
// the byte offset. Every file is checked against its sha256 when it is read, so damage
// is never served.
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import type { BundleSignature } from "../../core/bundle-signing.js";
import type { BundleManifest } from "../../core/index.js";
import { serverErrors } from "../errors.js";
import type { BundleHead, StoredBundle } from "./types.js";

const MAGIC = Buffer.from("NXB1");
const PREFIX = 4 + 4 + 4 + 32;

interface FrameHeader {
  host: string;
  id: string;
  sequence: number;
  pushedAt: string;
  manifest: string;
  signature?: BundleSignature;
  inline: Array<[string, number, number]>;
  refs: Array<[string, number, number]>;
}

/** Where a frame is. */
interface FrameAt {
  pos: number;
  headerLen: number;
  dataLen: number;
}

/** A bundle to append: checked by the caller, its sequence above the host's head. */
export interface NewFrame {
  host: string;
  id: string;
  sequence: number;
  manifestText: string;
  manifest: BundleManifest;
  files: Map<string, Buffer>;
  signature: BundleSignature | undefined;
}

function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

const key = (host: string, id: string) => `${host}/${id}`;

export class BundleLog {
  readonly path: string;
  private file: FileHandle | undefined;
  private size = 0;
  private readonly frames = new Map<string, FrameAt>();
  readonly heads = new Map<string, BundleHead>();
  /** Every file the log holds: sha256 -> [position, length] (what a new frame references instead of copying). */
  private readonly files = new Map<string, [number, number]>();

  constructor(path: string) {
    this.path = path;
  }

  /**
   * Opens the log (created 0600 if absent) and indexes it.
   *
   * @throws ServerError NIXSEAL_ERR_SERVER_CORRUPT when a frame before the end is damaged
   */
  async open(): Promise<void> {
    this.file = await open(this.path, "a+", 0o600);
    await this.file.close();
    this.file = await open(this.path, "r+");
    const end = (await this.file.stat()).size;
    let pos = 0;
    while (pos < end) {
      const frame = await this.readFrameHeader(pos, end);
      if (frame === "torn") break;
      if (frame === "damaged") throw serverErrors.corrupt([`bundles.log at byte ${pos}`]);
      this.index(frame.header, { pos, headerLen: frame.headerLen, dataLen: frame.dataLen });
      pos += PREFIX + frame.headerLen + frame.dataLen;
    }
    // A frame cut short at the end was never acknowledged: cut it off, so appends follow whole frames.
    if (pos < end) await this.file.truncate(pos);
    this.size = pos;
  }

  async close(): Promise<void> {
    await this.file?.close();
    this.file = undefined;
  }

  has(host: string, id: string): boolean {
    return this.frames.has(key(host, id));
  }

  private index(h: FrameHeader, at: FrameAt): void {
    this.frames.set(key(h.host, h.id), at);
    const dataStart = at.pos + PREFIX + at.headerLen;
    for (const [sha, off, len] of h.inline) if (!this.files.has(sha)) this.files.set(sha, [dataStart + off, len]);
    const current = this.heads.get(h.host);
    if (!current || current.sequence < h.sequence) this.heads.set(h.host, { id: h.id, sequence: h.sequence, pushedAt: h.pushedAt });
  }

  private async readAt(pos: number, len: number): Promise<Buffer> {
    const buf = Buffer.alloc(len);
    const { bytesRead } = await this.file!.read(buf, 0, len, pos);
    return bytesRead === len ? buf : buf.subarray(0, bytesRead);
  }

  /** The header of the frame at pos; "torn" when the file ends inside it, "damaged" when it does not check out. */
  private async readFrameHeader(pos: number, end: number): Promise<{ header: FrameHeader; headerLen: number; dataLen: number } | "torn" | "damaged"> {
    if (end - pos < PREFIX) return "torn";
    const prefix = await this.readAt(pos, PREFIX);
    const headerLen = prefix.readUInt32BE(4);
    const dataLen = prefix.readUInt32BE(8);
    const frameEnd = pos + PREFIX + headerLen + dataLen;
    // A bad frame with no whole frame after it is an append a crash cut short (some
    // filesystems leave zeros there): nothing from it on was acknowledged. One with a
    // whole frame after it is damage, and cutting it off would lose that frame.
    const bad = async () => ((await this.zerosFrom(pos, end)) || !(await this.wholeFrameAfter(pos, end)) ? "torn" : "damaged");
    if (!prefix.subarray(0, 4).equals(MAGIC)) return bad();
    if (frameEnd > end) return bad();
    const raw = await this.readAt(pos + PREFIX, headerLen);
    if (sha256Hex(raw) !== prefix.subarray(12, 44).toString("hex")) return bad();
    let header: FrameHeader;
    try {
      header = JSON.parse(raw.toString("utf8")) as FrameHeader;
    } catch {
      return bad();
    }
    if (frameEnd === end) {
      // The last frame's files are checked too: a crash may have kept its header but not all its data.
      const data = await this.readAt(pos + PREFIX + headerLen, dataLen);
      for (const [sha, off, len] of header.inline) if (sha256Hex(data.subarray(off, off + len)) !== sha) return "torn";
    }
    return { header, headerLen, dataLen };
  }

  /** Whether a whole frame (its magic and a header matching its sha256) starts anywhere after pos. */
  private async wholeFrameAfter(pos: number, end: number): Promise<boolean> {
    const CHUNK = 1 << 20;
    for (let at = pos + 1; at < end; at += CHUNK - MAGIC.length) {
      const chunk = await this.readAt(at, Math.min(CHUNK, end - at));
      for (let i = chunk.indexOf(MAGIC); i !== -1; i = chunk.indexOf(MAGIC, i + 1)) {
        const p = at + i;
        if (end - p < PREFIX) continue;
        const prefix = await this.readAt(p, PREFIX);
        const headerLen = prefix.readUInt32BE(4);
        if (p + PREFIX + headerLen + prefix.readUInt32BE(8) > end) continue;
        if (sha256Hex(await this.readAt(p + PREFIX, headerLen)) === prefix.subarray(12, 44).toString("hex")) return true;
      }
    }
    return false;
  }

  private async zerosFrom(pos: number, end: number): Promise<boolean> {
    for (let at = pos; at < end; at += 1 << 20) {
      const chunk = await this.readAt(at, Math.min(1 << 20, end - at));
      if (chunk.some((b) => b !== 0)) return false;
    }
    return true;
  }

  /** The manifest text stored for host/id, if any. */
  async manifestText(host: string, id: string): Promise<string | undefined> {
    const at = this.frames.get(key(host, id));
    if (!at) return undefined;
    const h = await this.header(at, `${host}/${id}`);
    return h.manifest;
  }

  private async header(at: FrameAt, where: string): Promise<FrameHeader> {
    const raw = await this.readAt(at.pos + PREFIX, at.headerLen);
    try {
      return JSON.parse(raw.toString("utf8")) as FrameHeader;
    } catch {
      throw serverErrors.corrupt([`bundle ${where}`]);
    }
  }

  /**
   * Appends frames with one write and one fdatasync, then makes each its host's head.
   * On a failure nothing of the call is indexed and the file is cut back.
   *
   * @returns each frame's head, in order
   */
  async append(frames: NewFrame[]): Promise<BundleHead[]> {
    const start = this.size;
    const pushedAt = new Date().toISOString();
    const buffers: Buffer[] = [];
    const placed: Array<{ header: FrameHeader; at: FrameAt }> = [];
    // Files earlier frames of this call hold.
    const pendingFiles = new Map<string, [number, number]>();
    let pos = start;
    for (const f of frames) {
      const inline: Array<[string, number, number]> = [];
      const refs: Array<[string, number, number]> = [];
      const data: Buffer[] = [];
      let dataLen = 0;
      const seen = new Set<string>();
      for (const s of f.manifest.secrets) {
        if (seen.has(s.sha256)) continue;
        seen.add(s.sha256);
        const old = this.files.get(s.sha256) ?? pendingFiles.get(s.sha256);
        if (old) refs.push([s.sha256, old[0], old[1]]);
        else {
          const bytes = f.files.get(s.file)!;
          inline.push([s.sha256, dataLen, bytes.length]);
          data.push(bytes);
          dataLen += bytes.length;
        }
      }
      const header: FrameHeader = { host: f.host, id: f.id, sequence: f.sequence, pushedAt, manifest: f.manifestText, ...(f.signature ? { signature: f.signature } : {}), inline, refs };
      const raw = Buffer.from(JSON.stringify(header));
      const prefix = Buffer.alloc(PREFIX);
      MAGIC.copy(prefix, 0);
      prefix.writeUInt32BE(raw.length, 4);
      prefix.writeUInt32BE(dataLen, 8);
      Buffer.from(sha256Hex(raw), "hex").copy(prefix, 12);
      buffers.push(prefix, raw, ...data);
      const at = { pos, headerLen: raw.length, dataLen };
      placed.push({ header, at });
      const dataStart = pos + PREFIX + raw.length;
      for (const [sha, off, len] of inline) pendingFiles.set(sha, [dataStart + off, len]);
      pos = dataStart + dataLen;
    }
    try {
      await this.writeAll(buffers, start);
      await this.file!.datasync();
    } catch (err) {
      await this.file!.truncate(start).catch(() => {});
      throw err;
    }
    this.size = pos;
    for (const p of placed) this.index(p.header, p.at);
    return placed.map((p) => ({ id: p.header.id, sequence: p.header.sequence, pushedAt }));
  }

  /** Writes the buffers at pos, going on after a short write (the next one names the error, e.g. ENOSPC). */
  private async writeAll(buffers: Buffer[], pos: number): Promise<void> {
    let rest = buffers;
    while (rest.length) {
      // writev takes a bounded number of buffers per call
      const chunk = rest.slice(0, 512);
      const want = chunk.reduce((n, b) => n + b.length, 0);
      const { bytesWritten } = await this.file!.writev(chunk, pos);
      pos += bytesWritten;
      if (bytesWritten === want) {
        rest = rest.slice(512);
        continue;
      }
      // Drop what was written, keep the remainder of a buffer cut in two.
      let skip = bytesWritten;
      let i = 0;
      while (skip >= chunk[i]!.length) skip -= chunk[i++]!.length;
      rest = [chunk[i]!.subarray(skip), ...rest.slice(i + 1)];
    }
  }

  /**
   * Reads a bundle with every file, each checked against its sha256.
   *
   * @throws ServerError NIXSEAL_ERR_SERVER_CORRUPT
   */
  async read(host: string, id: string): Promise<StoredBundle | undefined> {
    const at = this.frames.get(key(host, id));
    if (!at) return undefined;
    const where = `${host}/${id}`;
    const frame = await this.readAt(at.pos, PREFIX + at.headerLen + at.dataLen);
    const raw = frame.subarray(PREFIX, PREFIX + at.headerLen);
    if (frame.length < PREFIX + at.headerLen || sha256Hex(raw) !== frame.subarray(12, 44).toString("hex")) throw serverErrors.corrupt([`bundle ${where}`]);
    const h = JSON.parse(raw.toString("utf8")) as FrameHeader;
    let manifest: BundleManifest;
    try {
      manifest = JSON.parse(h.manifest) as BundleManifest;
    } catch {
      throw serverErrors.corrupt([`bundle ${where}`]);
    }
    if (h.host !== host || h.id !== id || manifest.host !== host || manifest.id !== id) throw serverErrors.corrupt([`bundle ${where}`]);
    const data = frame.subarray(PREFIX + at.headerLen);
    const bySha = new Map<string, Buffer>();
    for (const [sha, off, len] of h.inline) bySha.set(sha, data.subarray(off, off + len));
    for (const [sha, p, len] of h.refs) bySha.set(sha, await this.readAt(p, len));
    const files = new Map<string, Buffer>();
    for (const s of manifest.secrets) {
      const bytes = bySha.get(s.sha256);
      if (!bytes || sha256Hex(bytes) !== s.sha256) throw serverErrors.corrupt([s.sha256]);
      files.set(s.file, Buffer.from(bytes));
    }
    return { id, host, sequence: h.sequence, pushedAt: h.pushedAt, manifest, files, ...(h.signature ? { signature: h.signature } : {}) };
  }
}

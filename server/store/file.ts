// The embedded store: one directory, one server process, no database to run.
//
//   blobs/<aa>/<sha256>                  every .age file and every manifest, by the sha256
//                                        of its bytes; written once, never changed
//   hosts/<host>/bundles/<id>.json       a bundle record: manifest blob, sequence, pushedAt, signature
//   hosts/<host>/head                    the host's head: {id, sequence, pushedAt}
//   hosts/<host>/fetched                 the last bundle the host fetched, and when
//   fleet.json                           the fleet state last pushed
//   audit.log                            the audit log, one JSON object per line, appended
//
// Every write that matters is temp + fsync + rename (core's writeFileAtomic), and a push
// writes in the order blobs, manifest blob, record, head: a crash at any point leaves the
// previous head whole (at worst unreferenced blobs and temp files, swept at the next
// start). `fetched` is renamed without fsync: a crash loses at most when a host was last
// seen. Reads check each object against its sha256, so damage on disk is never served.
// Nonces, login codes and sessions live in memory: a restart forgets them, and the
// server then refuses requests signed before it started (claimsSinceMs).
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic, type BundleManifest } from "../../core/index.js";
import type { BundleSignature } from "../../core/bundle-signing.js";
import type { FleetState } from "../../core/schema/fleet.js";
import { serverErrors } from "../errors.js";
import { Ephemeral } from "./ephemeral.js";
import {
  IdConflict,
  SequenceConflict,
  type AuditEvent,
  type AuditQuery,
  type AuditRecord,
  type BundleHead,
  type BundleListener,
  type FetchRecord,
  type Store,
  type StoredBundle,
  type StoredFleet,
} from "./types.js";

interface BundleRecord extends BundleHead {
  host: string;
  manifest: string;
  signature?: BundleSignature;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Hex sha256 of bytes. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The manifest without its creation time, sequence and rollback mark: two pushes of the same secrets compare equal. */
export function sameContent(a: BundleManifest, b: BundleManifest): boolean {
  const strip = (m: BundleManifest) => JSON.stringify({ ...m, createdAt: "", sequence: 0, rollback: undefined });
  return strip(a) === strip(b);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The embedded store. Host names and ids must be validated by the caller. */
export class FileStore implements Store {
  readonly kind = "file" as const;
  readonly root: string;
  /** Claims (nonces) made before this are forgotten: requests signed earlier are refused. */
  readonly claimsSinceMs = Date.now();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly listeners = new Set<BundleListener>();
  private readonly ephemeral = new Ephemeral();
  private readonly headCache = new Map<string, BundleHead>();
  private readonly fetchCache = new Map<string, FetchRecord>();
  private fleetCache: { value: StoredFleet | undefined } | undefined;
  private auditFile: FileHandle | undefined;
  private auditSeq = 0;
  private readonly auditPending: Array<{ line: string; durable: boolean; resolve: () => void; reject: (err: unknown) => void }> = [];
  private readonly auditIdle: Array<() => void> = [];
  private auditFlushing = false;

  /** @param root - the storage directory (created 0700 if absent) */
  constructor(root: string) {
    this.root = root;
  }

  /**
   * Creates the directories, removes temp files a killed server left (writeFileAtomic's
   * `.NAME.RANDOM.tmp`; never read, since only renames publish) and loads heads and
   * fetch records. One server per storage directory.
   */
  async init(): Promise<void> {
    await mkdir(join(this.root, "blobs"), { recursive: true, mode: 0o700 });
    await mkdir(join(this.root, "hosts"), { recursive: true, mode: 0o700 });
    for (const entry of await readdir(this.root, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && /^\..+\.[0-9a-f]{12}\.tmp$/.test(entry.name)) await rm(join(entry.parentPath, entry.name), { force: true });
    }
    for (const host of await readdir(join(this.root, "hosts"))) {
      const head = await this.readJson<BundleHead>(join(this.hostDir(host), "head"));
      if (head) this.headCache.set(host, head);
      const fetched = await this.readJson<FetchRecord>(join(this.hostDir(host), "fetched"));
      if (fetched) this.fetchCache.set(host, fetched);
    }
    const log = await readIfExists(this.auditPath());
    // A line cut short by a crash is not an event; the next append starts a new line.
    this.auditSeq = log ? log.toString("utf8").split("\n").filter((l) => l.endsWith("}")).length : 0;
    this.auditFile = await open(this.auditPath(), "a", 0o600);
    if (log && log.length && log[log.length - 1] !== 0x0a) await this.auditFile.write("\n");
  }

  async close(): Promise<void> {
    await this.auditSettled();
    await this.auditFile?.close();
    this.auditFile = undefined;
    this.ephemeral.close();
  }

  private auditPath(): string {
    return join(this.root, "audit.log");
  }

  private blobPath(sha: string): string {
    return join(this.root, "blobs", sha.slice(0, 2), sha);
  }

  private hostDir(host: string): string {
    return join(this.root, "hosts", host);
  }

  private recordPath(host: string, id: string): string {
    return join(this.hostDir(host), "bundles", `${id}.json`);
  }

  private async readJson<T>(path: string): Promise<T | undefined> {
    const raw = await readIfExists(path);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw.toString("utf8")) as T;
    } catch {
      throw serverErrors.corrupt([path.slice(this.root.length + 1)]);
    }
  }

  /** Stores bytes under their sha256 (once: an existing blob is left as it is); returns the hash. */
  async putBlob(data: Uint8Array): Promise<string> {
    const sha = sha256Hex(data);
    const path = this.blobPath(sha);
    if (await exists(path)) return sha;
    await mkdir(join(this.root, "blobs", sha.slice(0, 2)), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, data, 0o600);
    return sha;
  }

  /**
   * Reads a blob and checks it against its name.
   *
   * @throws ServerError NIXSEAL_ERR_SERVER_CORRUPT when missing or changed on disk
   */
  async getBlob(sha: string): Promise<Buffer> {
    if (!SHA256.test(sha)) throw serverErrors.corrupt([sha.slice(0, 64)]);
    const data = await readIfExists(this.blobPath(sha));
    if (data === undefined || sha256Hex(data) !== sha) throw serverErrors.corrupt([sha]);
    return data;
  }

  async fleet(): Promise<StoredFleet | undefined> {
    this.fleetCache ??= { value: await this.readJson<StoredFleet>(join(this.root, "fleet.json")) };
    return this.fleetCache.value;
  }

  async putFleet(state: FleetState, by: string): Promise<StoredFleet> {
    const stored: StoredFleet = { state, pushedAt: new Date().toISOString(), by };
    await this.serialized("\0fleet", async () => {
      await writeFileAtomic(join(this.root, "fleet.json"), JSON.stringify(stored) + "\n", 0o600);
      this.fleetCache = { value: stored };
    });
    return stored;
  }

  async saveBundle(manifest: BundleManifest & { sequence: number }, files: Map<string, Buffer>, signature: BundleSignature | undefined): Promise<{ created: boolean; head: BundleHead }> {
    const result = await this.serialized(manifest.host, async () => {
      const { host, id, sequence } = manifest;
      const current = this.headCache.get(host);
      if (current && sequence <= current.sequence) throw new SequenceConflict(host, current.sequence, sequence);
      const existing = await this.readJson<BundleRecord>(this.recordPath(host, id));
      if (existing) {
        const old = JSON.parse((await this.getBlob(existing.manifest)).toString("utf8")) as BundleManifest;
        if (!sameContent(old, manifest)) throw new IdConflict(host, id);
      }
      for (const s of manifest.secrets) await this.putBlob(files.get(s.file)!);
      const manifestSha = await this.putBlob(Buffer.from(JSON.stringify(manifest)));
      const head: BundleHead = { id, sequence, pushedAt: new Date().toISOString() };
      const record: BundleRecord = { ...head, host, manifest: manifestSha, ...(signature ? { signature } : {}) };
      await mkdir(join(this.hostDir(host), "bundles"), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.recordPath(host, id), JSON.stringify(record) + "\n", 0o600);
      await writeFileAtomic(join(this.hostDir(host), "head"), JSON.stringify(head) + "\n", 0o600);
      this.headCache.set(host, head);
      return { created: existing === undefined, head };
    });
    for (const l of this.listeners) l(manifest.host, result.head.sequence);
    return result;
  }

  async head(host: string): Promise<BundleHead | undefined> {
    return this.headCache.get(host);
  }

  async heads(): Promise<Map<string, BundleHead>> {
    return new Map(this.headCache);
  }

  async readBundle(host: string, id: string): Promise<StoredBundle | undefined> {
    const record = await this.readJson<BundleRecord>(this.recordPath(host, id));
    if (record === undefined) return undefined;
    const where = `hosts/${host}/bundles/${id}.json`;
    if (record.id !== id || record.host !== host) throw serverErrors.corrupt([where]);
    let manifest: BundleManifest;
    try {
      manifest = JSON.parse((await this.getBlob(record.manifest)).toString("utf8")) as BundleManifest;
    } catch (err) {
      if (err instanceof SyntaxError) throw serverErrors.corrupt([record.manifest]);
      throw err;
    }
    if (manifest.id !== id || manifest.host !== host) throw serverErrors.corrupt([record.manifest]);
    const files = new Map<string, Buffer>();
    for (const s of manifest.secrets) files.set(s.file, await this.getBlob(s.sha256));
    return { id, host, sequence: record.sequence, pushedAt: record.pushedAt, manifest, files, ...(record.signature ? { signature: record.signature } : {}) };
  }

  async recordFetch(host: string, fetch: FetchRecord): Promise<void> {
    this.fetchCache.set(host, fetch);
    const dir = this.hostDir(host);
    const tmp = join(dir, `.fetched.${process.pid}.tmp`);
    await this.serialized(`\0fetch:${host}`, async () => {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(tmp, JSON.stringify(this.fetchCache.get(host)) + "\n", { mode: 0o600 });
      await rename(tmp, join(dir, "fetched"));
    });
  }

  async fetches(): Promise<Map<string, FetchRecord>> {
    return new Map(this.fetchCache);
  }

  /**
   * Appends one event. Events that arrive while a write is on its way are written
   * together after it, with one fdatasync for all of them (group commit). A durable
   * event (a push) resolves once it is on disk; others (fetches, refusals) once they
   * are written, their flush following within moments: a crash of the machine may lose
   * the last of those, never a push's record.
   */
  async audit(event: AuditEvent, durable = false): Promise<void> {
    const line = JSON.stringify({ seq: ++this.auditSeq, ...event }) + "\n";
    return new Promise((resolve, reject) => {
      this.auditPending.push({ line, durable, resolve, reject });
      if (!this.auditFlushing) void this.flushAudit();
    });
  }

  private async flushAudit(): Promise<void> {
    this.auditFlushing = true;
    while (this.auditPending.length) {
      const batch = this.auditPending.splice(0);
      try {
        await this.auditFile!.write(batch.map((b) => b.line).join(""));
        for (const b of batch) if (!b.durable) b.resolve();
        await this.auditFile!.datasync();
        for (const b of batch) if (b.durable) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.auditFlushing = false;
    for (const r of this.auditIdle.splice(0)) r();
  }

  /** Resolves once every event appended so far is on disk. */
  private auditSettled(): Promise<void> {
    return this.auditFlushing ? new Promise((resolve) => this.auditIdle.push(resolve)) : Promise.resolve();
  }

  async auditLog(q: AuditQuery): Promise<AuditRecord[]> {
    await this.auditSettled();
    const text = (await readIfExists(this.auditPath()))?.toString("utf8") ?? "";
    const out: AuditRecord[] = [];
    const lines = text.split("\n");
    for (let i = lines.length - 1; i >= 0 && out.length < q.limit; i--) {
      const line = lines[i]!;
      if (!line.endsWith("}")) continue;
      let r: AuditRecord;
      try {
        r = JSON.parse(line) as AuditRecord;
      } catch {
        continue;
      }
      if (q.before !== undefined && r.seq >= q.before) continue;
      if (q.host !== undefined && r.host !== q.host) continue;
      out.push(r);
    }
    return out;
  }

  async claimOnce(key: string, expiresAtMs: number): Promise<boolean> {
    return this.ephemeral.claim(key, expiresAtMs);
  }

  async takeOnce(key: string): Promise<boolean> {
    return this.ephemeral.take(key);
  }

  async holds(key: string): Promise<boolean> {
    return this.ephemeral.holds(key);
  }

  onBundle(listener: BundleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Work for one key runs one at a time, in the order it arrived. */
  private serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => {});
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }
}

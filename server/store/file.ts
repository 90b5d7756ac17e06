// The embedded store: one directory, one server process, no database to run.
//
//   bundles.log     every bundle stored, appended (server/store/bundle-log.ts): heads
//                   and the index are rebuilt from it at start
//   fetches.log     the last bundle each host fetched, and when (one JSON line per fetch;
//                   compacted at start)
//   claims.log      request nonces, fleet page links and sessions, with their expiry
//                   (one JSON line per claim or use; compacted at start and when large)
//   fleet.json      the fleet state last pushed
//   audit.log       the audit log, one JSON object per line, appended
//
// Bundles that arrive together, in one batch or in uploads that overlap, are written in
// one append and made durable with one fdatasync before any becomes a head. Fetch
// records, fetch audit lines and claims are written before the request goes on (a
// killed server keeps them) and flushed to disk together moments later; a push's audit
// line is on disk before the push is answered.
//
// Nonces therefore outlive a restart: a request signed before it and sent again after
// it is refused as a replay, and a fresh one signed before the start is accepted. Only
// after the machine itself went down without the server closing its logs (whatever the
// kernel had not yet flushed may be lost) does the server refuse requests signed before
// it started (claimsSinceMs), as a store without a memory of nonces must.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic, type BundleManifest } from "../../core/index.js";
import type { FleetState } from "../../core/schema/fleet.js";
import { serverErrors } from "../errors.js";
import { AppendLog, readJsonLines } from "./append-log.js";
import { BundleLog, type NewFrame } from "./bundle-log.js";
import { Ephemeral } from "./ephemeral.js";
import {
  IdConflict,
  SequenceConflict,
  type AuditEvent,
  type AuditQuery,
  type AuditRecord,
  type BundleHead,
  type BundleListener,
  type BundleToSave,
  type FetchRecord,
  type SaveOutcome,
  type Store,
  type StoredBundle,
  type StoredFleet,
} from "./types.js";

/** Hex sha256 of bytes. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The manifest without its creation time, sequence and rollback mark: two pushes of the same secrets compare equal. */
export function sameContent(a: BundleManifest, b: BundleManifest): boolean {
  const strip = (m: BundleManifest) => JSON.stringify({ ...m, createdAt: "", sequence: 0, rollback: undefined });
  return strip(a) === strip(b);
}

/** This boot of the machine: writes not yet flushed survive a killed process, not a new boot. */
function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown";
  }
}

type ClaimLine = { k: string; e: number } | { k: string; t: 1 } | { boot: string; at: number } | { closed: number };
type FetchLine = FetchRecord & { host: string };

/** The claims log is rewritten with only the live claims once it is this large (and mostly dead). */
const CLAIMS_COMPACT_BYTES = 4 * 1024 * 1024;

interface QueuedSave {
  items: BundleToSave[];
  resolve: (outcomes: SaveOutcome[]) => void;
  reject: (err: unknown) => void;
}

/** The embedded store. Host names and ids must be validated by the caller. */
export class FileStore implements Store {
  readonly kind = "file" as const;
  readonly root: string;
  /** Requests signed before this are refused: 0 unless the machine went down with claims unflushed. */
  claimsSinceMs = 0;
  private readonly listeners = new Set<BundleListener>();
  private readonly bundles: BundleLog;
  private readonly auditLogFile: AppendLog;
  private readonly fetchLog: AppendLog;
  private readonly claimLog: AppendLog;
  private readonly claims = new Ephemeral();
  private readonly fetchCache = new Map<string, FetchRecord>();
  private fetchLines = 0;
  private fleetCache: { value: StoredFleet | undefined } | undefined;
  private auditSeq = 0;
  private readonly saves: QueuedSave[] = [];
  /** The group commit under way, if any. */
  private saving: Promise<void> | undefined;
  private compacting = false;
  private fleetWrites: Promise<unknown> = Promise.resolve();

  /** @param root - the storage directory (created 0700 if absent) */
  constructor(root: string) {
    this.root = root;
    this.bundles = new BundleLog(join(root, "bundles.log"));
    this.auditLogFile = new AppendLog(join(root, "audit.log"));
    this.fetchLog = new AppendLog(join(root, "fetches.log"));
    this.claimLog = new AppendLog(join(root, "claims.log"));
  }

  /**
   * Opens the logs and rebuilds heads, fetch records and claims from them. One server
   * per storage directory.
   *
   * @throws ServerError NIXSEAL_ERR_SERVER_CORRUPT (damaged bundles.log), NIXSEAL_ERR_SERVER_USAGE (a directory of an older layout)
   */
  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    if (!existsSync(join(this.root, "bundles.log")) && (existsSync(join(this.root, "hosts")) || existsSync(join(this.root, "blobs")))) {
      throw serverErrors.usage([`${this.root} holds bundles in the per-file layout of an earlier nixseal-server (hosts/, blobs/), which this one does not read`], {
        hints: ["start the server on an empty directory and run nixseal push again: the repository holds everything the server stores (keep the old audit.log if you need its history)"],
      });
    }
    // writeFileAtomic's temp files (`.NAME.RANDOM.tmp`) a killed server left: never read, since only renames publish.
    for (const name of await readdir(this.root)) if (/^\..+\.[0-9a-f]{12}\.tmp$/.test(name)) await rm(join(this.root, name), { force: true });
    const hadState = existsSync(join(this.root, "fleet.json"));
    await this.bundles.open();

    const audit = await readJsonLines<{ seq?: number }>(this.auditLogFile.path);
    this.auditSeq = audit.lines.length;
    await this.auditLogFile.open(audit);

    const fetched = await readJsonLines<FetchLine>(this.fetchLog.path);
    for (const f of fetched.lines) if (typeof f.host === "string") this.fetchCache.set(f.host, { id: f.id, sequence: f.sequence, at: f.at });
    await this.fetchLog.open(fetched);
    this.fetchLines = fetched.lines.length;
    if (this.fetchLines > 2 * this.fetchCache.size + 100) await this.compactFetches();

    await this.loadClaims(hadState);
  }

  /** Reads claims.log, decides whether it can be trusted whole, and starts a compacted one. */
  private async loadClaims(hadState: boolean): Promise<void> {
    const read = await readJsonLines<ClaimLine>(this.claimLog.path);
    const now = Date.now();
    const boot = bootId();
    let lastBoot: string | undefined;
    let closed = false;
    for (const l of read.lines) {
      if ("boot" in l) {
        lastBoot = l.boot;
        closed = false;
      } else if ("closed" in l) closed = true;
      else if ("t" in l) this.claims.take(l.k);
      else if (typeof l.k === "string" && typeof l.e === "number" && l.e > now) this.claims.load(l.k, l.e);
    }
    const trusted = read.bytes === 0 ? !hadState : closed || (lastBoot === boot && boot !== "unknown");
    if (!trusted) this.claimsSinceMs = now;
    await this.claimLog.open(read);
    await this.compactClaims({ boot, at: now });
  }

  private async compactClaims(open?: { boot: string; at: number }): Promise<void> {
    await this.claimLog.rewrite(
      () => {
        const lines = [...this.claims.entries()].map(([k, e]) => JSON.stringify({ k, e }) + "\n");
        if (open) lines.unshift(JSON.stringify(open) + "\n");
        return lines;
      },
      (path, text) => writeFileAtomic(path, text, 0o600),
    );
  }

  private async compactFetches(): Promise<void> {
    await this.fetchLog.rewrite(
      () => [...this.fetchCache].map(([host, f]) => JSON.stringify({ host, ...f }) + "\n"),
      (path, text) => writeFileAtomic(path, text, 0o600),
    );
    this.fetchLines = this.fetchCache.size;
  }

  async close(): Promise<void> {
    while (this.saving) await this.saving;
    await this.auditLogFile.close();
    await this.fetchLog.close();
    // Everything is on disk once this line is: the next start can trust the log whole.
    await this.claimLog.append({ closed: Date.now() }, true).catch(() => {});
    await this.claimLog.close();
    await this.bundles.close();
    this.claims.close();
  }

  private async readJson<T>(path: string): Promise<T | undefined> {
    let raw: Buffer;
    try {
      raw = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    try {
      return JSON.parse(raw.toString("utf8")) as T;
    } catch {
      throw serverErrors.corrupt([path.slice(this.root.length + 1)]);
    }
  }

  async fleet(): Promise<StoredFleet | undefined> {
    this.fleetCache ??= { value: await this.readJson<StoredFleet>(join(this.root, "fleet.json")) };
    return this.fleetCache.value;
  }

  async putFleet(state: FleetState, by: string): Promise<StoredFleet> {
    const stored: StoredFleet = { state, pushedAt: new Date().toISOString(), by };
    const write = this.fleetWrites.then(async () => {
      await writeFileAtomic(join(this.root, "fleet.json"), JSON.stringify(stored) + "\n", 0o600);
      this.fleetCache = { value: stored };
    });
    this.fleetWrites = write.catch(() => {});
    await write;
    return stored;
  }

  /**
   * Stores bundles: each is checked against its host's head (and the ones before it in
   * this call and in calls that overlap), then all that pass are appended together and
   * made durable with one fdatasync. Listeners hear of each new head after that.
   */
  saveBundles(items: BundleToSave[]): Promise<SaveOutcome[]> {
    return new Promise((resolve, reject) => {
      this.saves.push({ items, resolve, reject });
      this.startSaving();
    });
  }

  private startSaving(): void {
    if (this.saving) return;
    this.saving = this.writeSaves().finally(() => {
      this.saving = undefined;
      if (this.saves.length) this.startSaving();
    });
  }

  /** Group commit: every save queued while one is written goes out in the next append. */
  private async writeSaves(): Promise<void> {
    while (this.saves.length) {
      const queued = this.saves.splice(0);
      const stored: Array<{ host: string; sequence: number }> = [];
      try {
        const heads = new Map<string, number>();
        const frames: NewFrame[] = [];
        const inThisAppend = new Map<string, string>();
        const outcomes: Array<Array<SaveOutcome | { frame: number; created: boolean }>> = [];
        for (const q of queued) {
          const out: Array<SaveOutcome | { frame: number; created: boolean }> = [];
          for (const { manifest, files, signature } of q.items) {
            const { host, id, sequence } = manifest;
            const head = heads.get(host) ?? this.bundles.heads.get(host)?.sequence;
            if (head !== undefined && sequence <= head) {
              out.push({ ok: false, error: new SequenceConflict(host, head, sequence) });
              continue;
            }
            const text = JSON.stringify(manifest);
            const existing = inThisAppend.get(`${host}/${id}`) ?? (this.bundles.has(host, id) ? await this.bundles.manifestText(host, id) : undefined);
            if (existing !== undefined && !sameContent(JSON.parse(existing) as BundleManifest, manifest)) {
              out.push({ ok: false, error: new IdConflict(host, id) });
              continue;
            }
            heads.set(host, sequence);
            inThisAppend.set(`${host}/${id}`, text);
            out.push({ frame: frames.length, created: existing === undefined });
            frames.push({ host, id, sequence, manifestText: text, manifest, files, signature });
          }
          outcomes.push(out);
        }
        const written = frames.length ? await this.bundles.append(frames) : [];
        queued.forEach((q, i) =>
          q.resolve(
            outcomes[i]!.map((o) => {
              if ("ok" in o) return o;
              const head = written[o.frame]!;
              stored.push({ host: frames[o.frame]!.host, sequence: head.sequence });
              return { ok: true, created: o.created, head };
            }),
          ),
        );
      } catch (err) {
        for (const q of queued) q.reject(err);
      }
      for (const s of stored) for (const l of this.listeners) l(s.host, s.sequence);
    }
  }

  async head(host: string): Promise<BundleHead | undefined> {
    return this.bundles.heads.get(host);
  }

  async heads(): Promise<Map<string, BundleHead>> {
    return new Map(this.bundles.heads);
  }

  async readBundle(host: string, id: string): Promise<StoredBundle | undefined> {
    return this.bundles.read(host, id);
  }

  async readLatest(host: string, after = -1): Promise<StoredBundle | undefined> {
    const head = this.bundles.heads.get(host);
    if (!head || head.sequence <= after) return undefined;
    const b = await this.bundles.read(host, head.id);
    // A head always names a frame of the log; anything else is damage.
    if (!b) throw serverErrors.corrupt([`the head of ${host}`]);
    return b;
  }

  async recordFetch(host: string, fetch: FetchRecord, event: AuditEvent): Promise<void> {
    this.fetchCache.set(host, fetch);
    this.fetchLines++;
    await Promise.all([this.fetchLog.append({ host, ...fetch }), this.audit([event])]);
    if (this.fetchLines > 4 * this.fetchCache.size + 1000) await this.compactOnce(() => this.compactFetches());
  }

  /** Runs one compaction at a time; a request that finds one under way does not start another. */
  private async compactOnce(fn: () => Promise<void>): Promise<void> {
    if (this.compacting) return;
    this.compacting = true;
    try {
      await fn();
    } finally {
      this.compacting = false;
    }
  }

  async fetches(): Promise<Map<string, FetchRecord>> {
    return new Map(this.fetchCache);
  }

  /** Appends events (see AppendLog: a durable one, a push, is on disk when this resolves). */
  async audit(events: AuditEvent[], durable = false): Promise<void> {
    if (!events.length) return;
    await this.auditLogFile.appendLines(events.map((e) => JSON.stringify({ seq: ++this.auditSeq, ...e }) + "\n"), durable);
  }

  async auditLog(q: AuditQuery): Promise<AuditRecord[]> {
    await this.auditLogFile.settled();
    const { lines } = await readJsonLines<AuditRecord>(this.auditLogFile.path);
    const out: AuditRecord[] = [];
    for (let i = lines.length - 1; i >= 0 && out.length < q.limit; i--) {
      const r = lines[i]!;
      if (q.before !== undefined && r.seq >= q.before) continue;
      if (q.host !== undefined && r.host !== q.host) continue;
      out.push(r);
    }
    return out;
  }

  async claimOnce(key: string, expiresAtMs: number): Promise<boolean> {
    if (!this.claims.claim(key, expiresAtMs)) return false;
    await this.claimLog.append({ k: key, e: expiresAtMs });
    if (this.claimLog.size > CLAIMS_COMPACT_BYTES && this.claimLog.size > 8 * 100 * this.claims.size) await this.compactOnce(() => this.compactClaims());
    return true;
  }

  async takeOnce(key: string): Promise<boolean> {
    const held = this.claims.take(key);
    await this.claimLog.append({ k: key, t: 1 });
    return held;
  }

  async holds(key: string): Promise<boolean> {
    return this.claims.holds(key);
  }

  onBundle(listener: BundleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

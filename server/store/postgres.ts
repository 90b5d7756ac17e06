// The PostgreSQL store, for several server replicas behind a load balancer. Each save,
// of one bundle or of a whole batch, is one transaction of a few statements over arrays
// (blobs, bundle records, heads, and NOTIFYs that PostgreSQL delivers to every replica
// when it commits), so readers on any replica see a host's previous head or its new
// one, whole. A host's fetch is three round trips: the nonce claim, the head with its
// bundle and files in one query, and the fetch record with its audit line in one
// statement on connections that do not wait for the WAL flush (a crash of PostgreSQL
// may lose when a host last fetched, never a bundle or a push's audit line). Each replica LISTENs on one connection of its own and wakes its
// long-polling hosts; when that connection drops (PostgreSQL restarted) it reconnects
// and wakes every waiter to look again, so no push is missed while it was away.
// Manifests are kept as the exact JSON text they were pushed as (a signature covers
// that text), never as jsonb, which would reorder keys.
import pg from "pg";
import type { BundleManifest } from "../../core/index.js";
import type { FleetState } from "../../core/schema/fleet.js";
import { serverErrors } from "../errors.js";
import { sameContent, sha256Hex } from "./file.js";
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

const CHANNEL = "nixseal_changes";
/** Serialises schema creation across replicas starting at once. */
const SCHEMA_LOCK = 0x6e78_5345; // "nxSE"

const SCHEMA = `
CREATE TABLE IF NOT EXISTS nixseal_blobs (sha256 text PRIMARY KEY, data bytea NOT NULL);
CREATE TABLE IF NOT EXISTS nixseal_bundles (
  host text NOT NULL, id text NOT NULL, sequence bigint NOT NULL, pushed_at text NOT NULL,
  manifest text NOT NULL, signature text, PRIMARY KEY (host, id));
CREATE TABLE IF NOT EXISTS nixseal_heads (host text PRIMARY KEY, id text NOT NULL, sequence bigint NOT NULL, pushed_at text NOT NULL);
CREATE TABLE IF NOT EXISTS nixseal_fetches (host text PRIMARY KEY, id text NOT NULL, sequence bigint NOT NULL, at text NOT NULL);
CREATE TABLE IF NOT EXISTS nixseal_fleet (one boolean PRIMARY KEY DEFAULT true CHECK (one), state text NOT NULL, pushed_at text NOT NULL, pushed_by text NOT NULL);
CREATE TABLE IF NOT EXISTS nixseal_audit (
  seq bigserial PRIMARY KEY, at text NOT NULL, actor text NOT NULL, action text NOT NULL,
  host text, bundle text, sequence bigint, detail text, remote text);
CREATE INDEX IF NOT EXISTS nixseal_audit_host ON nixseal_audit (host, seq);
CREATE TABLE IF NOT EXISTS nixseal_claims (key text PRIMARY KEY, expires_ms bigint NOT NULL);
`;

const AUDIT_COLUMNS = "at, actor, action, host, bundle, sequence, detail, remote";
/** Audit events as eight parallel arrays, for one INSERT … SELECT FROM unnest(…). */
const AUDIT_UNNEST = "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])";
function auditArrays(events: AuditEvent[]): unknown[][] {
  return [
    events.map((e) => e.at),
    events.map((e) => e.actor),
    events.map((e) => e.action),
    events.map((e) => e.host ?? null),
    events.map((e) => e.bundle ?? null),
    events.map((e) => e.sequence ?? null),
    events.map((e) => e.detail ?? null),
    events.map((e) => e.remote ?? null),
  ];
}

/** A bundle row with its files: the sha256 of each file the manifest names, to its bytes as base64. */
const BUNDLE_WITH_FILES = `b.id, b.sequence, b.pushed_at, b.manifest, b.signature,
  (SELECT json_object_agg(bl.sha256, encode(bl.data, 'base64')) FROM nixseal_blobs bl
    WHERE bl.sha256 IN (SELECT s->>'sha256' FROM json_array_elements(b.manifest::json->'secrets') s)) AS files`;

interface BundleRow {
  id: string;
  sequence: string;
  pushed_at: string;
  manifest: string;
  signature: string | null;
  files: Record<string, string> | null;
}

/** NOTIFY payloads stay under PostgreSQL's 8000 bytes: heads are sent in chunks. */
const NOTIFY_PAYLOAD_BYTES = 7000;

/** PostgreSQL error codes (and socket errors) that mean "not reachable right now": answered 503. */
function unavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return err instanceof Error && /Connection terminated|connection timeout|not queryable/i.test(err.message);
  return /^(08|57P0[1-3])/.test(code) || ["ECONNREFUSED", "ECONNRESET", "ENOENT", "EPIPE", "ETIMEDOUT"].includes(code);
}

/**
 * pg's client config from a connection string: a postgresql:// URL, or libpq's
 * `key=value` form (`host=/run/postgresql dbname=nixseal`), which pg does not read itself.
 */
export function pgConfig(connectionString: string): pg.ClientConfig {
  if (/^postgres(ql)?:\/\//.test(connectionString)) return { connectionString };
  const names: Record<string, keyof pg.ClientConfig> = { host: "host", port: "port", dbname: "database", user: "user", application_name: "application_name" };
  const config: Record<string, unknown> = {};
  for (const m of connectionString.matchAll(/(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/g)) {
    const key = names[m[1]!];
    if (!key) throw serverErrors.usage([`--postgres: "${m[1]}" is not supported (host, port, dbname, user, application_name)`]);
    const raw = m[2]!.startsWith("'") ? m[2]!.slice(1, -1).replace(/\\(.)/g, "$1") : m[2]!;
    config[key] = key === "port" ? Number(raw) : raw;
  }
  return config as pg.ClientConfig;
}

export interface PostgresStoreOptions {
  /** A libpq connection string or postgresql:// URL, without a password (use a .pgpass file or peer auth). */
  connectionString: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  /** Claims are shared by every replica and kept across restarts. */
  readonly claimsSinceMs = 0;
  private readonly pool: pg.Pool;
  /** Connections whose commits do not wait for the WAL flush: fetch records and refusals. */
  private readonly lazyPool: pg.Pool;
  private readonly listeners = new Set<BundleListener>();
  private listener: pg.Client | undefined;
  private closed = false;
  private fleetCache: { value: StoredFleet | undefined } | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;

  private readonly opts: PostgresStoreOptions;
  private readonly poolSize: number;

  constructor(opts: PostgresStoreOptions) {
    this.opts = opts;
    this.poolSize = opts.poolSize ?? 10;
    this.pool = new pg.Pool({ ...pgConfig(opts.connectionString), max: opts.poolSize ?? 10, connectionTimeoutMillis: 5000 });
    // An idle connection that PostgreSQL closes (restart) is dropped by the pool; without
    // a listener the error would end the process.
    this.pool.on("error", () => {});
    this.lazyPool = new pg.Pool({ ...pgConfig(opts.connectionString), options: "-c synchronous_commit=off", max: Math.max(2, Math.ceil((opts.poolSize ?? 10) / 2)), connectionTimeoutMillis: 5000 });
    this.lazyPool.on("error", () => {});
  }

  async init(): Promise<void> {
    await this.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
      await c.query(SCHEMA);
    });
    await this.listen();
    this.sweep = setInterval(() => void this.pool.query("DELETE FROM nixseal_claims WHERE expires_ms <= $1", [Date.now()]).catch(() => {}), 30_000);
    this.sweep.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    clearTimeout(this.reconnectTimer);
    await this.listener?.end().catch(() => {});
    await Promise.all([this.pool.end(), this.lazyPool.end()]);
  }

  /** One LISTEN connection; on loss, reconnect with backoff and tell every listener to look again. */
  private async listen(): Promise<void> {
    const client = new pg.Client({ ...pgConfig(this.opts.connectionString), connectionTimeoutMillis: 5000 });
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.end().catch(() => {});
      this.scheduleReconnect(100);
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (n) => {
      const [kind, ...heads] = (n.payload ?? "").split(" ");
      if (kind === "f") this.fleetCache = undefined;
      else if (kind === "b") {
        for (const h of heads) {
          const [host, seq] = h.split(":");
          if (host) for (const l of this.listeners) l(host, Number(seq));
        }
      }
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.listen().then(
        () => {
          // Notifications sent while we were away are lost: everything may have changed.
          this.fleetCache = undefined;
          for (const l of this.listeners) l("*", 0);
        },
        () => this.scheduleReconnect(Math.min(delayMs * 2, 2000)),
      );
    }, delayMs);
    this.reconnectTimer.unref();
  }

  /**
   * Runs fn on a connection of the pool. A connection that broke (PostgreSQL restarted
   * while it sat idle in the pool) is dropped, not handed back; when it broke before fn
   * got any answer from it, fn runs again on another (every idle one may be dead), so a
   * request that arrives just after a restart does not fail for it. Connection trouble that remains becomes a
   * 503 the client retries.
   */
  private async withClient<T>(pool: pg.Pool, fn: (c: pg.PoolClient, answered: () => void) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let c: pg.PoolClient;
      try {
        c = await pool.connect();
      } catch (err) {
        throw unavailable(err) ? serverErrors.unavailable([], { cause: err }) : err;
      }
      // A checked-out client with no listener would take the process down with its error event.
      let broken: unknown;
      const onError = (err: unknown) => (broken ??= err);
      c.on("error", onError);
      let gotAnswer = false;
      try {
        return await fn(c, () => (gotAnswer = true));
      } catch (err) {
        if (unavailable(err)) broken ??= err;
        if (broken !== undefined && !gotAnswer && attempt < this.poolSize) continue;
        throw unavailable(err) ? serverErrors.unavailable([], { cause: err }) : err;
      } finally {
        c.off("error", onError);
        c.release(broken === undefined ? undefined : (broken as Error));
      }
    }
  }

  /** Runs one statement (autocommit). */
  private q<R extends pg.QueryResultRow>(text: string, values: unknown[] = [], pool = this.pool): Promise<pg.QueryResult<R>> {
    return this.withClient(pool, (c) => c.query<R>(text, values));
  }

  /** Runs fn in a transaction; rolled back when it throws. */
  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(this.pool, async (c, answered) => {
      await c.query("BEGIN");
      answered();
      try {
        const out = await fn(c);
        await c.query("COMMIT");
        return out;
      } catch (err) {
        await c.query("ROLLBACK").catch(() => {});
        throw err;
      }
    });
  }

  async fleet(): Promise<StoredFleet | undefined> {
    if (this.fleetCache && this.listener) return this.fleetCache.value;
    const r = await this.q<{ state: string; pushed_at: string; pushed_by: string }>("SELECT state, pushed_at, pushed_by FROM nixseal_fleet");
    const row = r.rows[0];
    const value = row ? { state: JSON.parse(row.state) as FleetState, pushedAt: row.pushed_at, by: row.pushed_by } : undefined;
    this.fleetCache = { value };
    return value;
  }

  async putFleet(state: FleetState, by: string): Promise<StoredFleet> {
    const stored: StoredFleet = { state, pushedAt: new Date().toISOString(), by };
    await this.tx(async (c) => {
      await c.query(
        "INSERT INTO nixseal_fleet (one, state, pushed_at, pushed_by) VALUES (true, $1, $2, $3) ON CONFLICT (one) DO UPDATE SET state = $1, pushed_at = $2, pushed_by = $3",
        [JSON.stringify(state), stored.pushedAt, by],
      );
      await c.query("SELECT pg_notify($1, 'f')", [CHANNEL]);
    });
    this.fleetCache = undefined;
    return stored;
  }

  async saveBundles(items: BundleToSave[]): Promise<SaveOutcome[]> {
    if (!items.length) return [];
    const hosts = [...new Set(items.map((i) => i.manifest.host))].sort();
    return this.tx(async (c) => {
      // One save per host at a time, across replicas; taken in one order, so two batches never deadlock.
      await c.query("SELECT pg_advisory_xact_lock(hashtext('nixseal-host:' || h)) FROM (SELECT h FROM unnest($1::text[]) AS h ORDER BY h) AS sorted", [hosts]);
      const heads = new Map(
        (await c.query<{ host: string; sequence: string }>("SELECT host, sequence FROM nixseal_heads WHERE host = ANY($1)", [hosts])).rows.map((r) => [r.host, Number(r.sequence)]),
      );
      const existing = new Map(
        (
          await c.query<{ host: string; id: string; manifest: string }>(
            "SELECT b.host, b.id, b.manifest FROM nixseal_bundles b JOIN unnest($1::text[], $2::text[]) AS k(host, id) ON b.host = k.host AND b.id = k.id",
            [items.map((i) => i.manifest.host), items.map((i) => i.manifest.id)],
          )
        ).rows.map((r) => [`${r.host}/${r.id}`, r.manifest]),
      );
      const pushedAt = new Date().toISOString();
      const outcomes: SaveOutcome[] = [];
      const accepted: BundleToSave[] = [];
      for (const item of items) {
        const { host, id, sequence } = item.manifest;
        const head = heads.get(host);
        if (head !== undefined && sequence <= head) {
          outcomes.push({ ok: false, error: new SequenceConflict(host, head, sequence) });
          continue;
        }
        const text = JSON.stringify(item.manifest);
        const old = existing.get(`${host}/${id}`);
        if (old !== undefined && !sameContent(JSON.parse(old) as BundleManifest, item.manifest)) {
          outcomes.push({ ok: false, error: new IdConflict(host, id) });
          continue;
        }
        heads.set(host, sequence);
        existing.set(`${host}/${id}`, text);
        outcomes.push({ ok: true, created: old === undefined, head: { id, sequence, pushedAt } });
        accepted.push(item);
      }
      if (accepted.length) {
        const blobs = new Map<string, Buffer>();
        for (const a of accepted) for (const s of a.manifest.secrets) blobs.set(s.sha256, a.files.get(s.file)!);
        const known = new Set((await c.query<{ sha256: string }>("SELECT sha256 FROM nixseal_blobs WHERE sha256 = ANY($1)", [[...blobs.keys()]])).rows.map((r) => r.sha256));
        const fresh = [...blobs].filter(([sha]) => !known.has(sha));
        if (fresh.length) {
          await c.query("INSERT INTO nixseal_blobs (sha256, data) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT DO NOTHING", [fresh.map(([sha]) => sha), fresh.map(([, data]) => data)]);
        }
        // The last of each host/id and of each host wins (one row may not be upserted twice in one statement).
        const lastBundle = new Map(accepted.map((a) => [`${a.manifest.host}/${a.manifest.id}`, a]));
        const lastHead = new Map(accepted.map((a) => [a.manifest.host, a]));
        const rows = [...lastBundle.values()];
        await c.query(
          `INSERT INTO nixseal_bundles (host, id, sequence, pushed_at, manifest, signature)
           SELECT k.host, k.id, k.sequence, $4, k.manifest, k.signature FROM unnest($1::text[], $2::text[], $3::bigint[], $5::text[], $6::text[]) AS k(host, id, sequence, manifest, signature)
           ON CONFLICT (host, id) DO UPDATE SET sequence = EXCLUDED.sequence, pushed_at = EXCLUDED.pushed_at, manifest = EXCLUDED.manifest, signature = EXCLUDED.signature`,
          [rows.map((a) => a.manifest.host), rows.map((a) => a.manifest.id), rows.map((a) => a.manifest.sequence), pushedAt, rows.map((a) => JSON.stringify(a.manifest)), rows.map((a) => a.signature ?? null)],
        );
        const newHeads = [...lastHead.values()];
        await c.query(
          `INSERT INTO nixseal_heads (host, id, sequence, pushed_at) SELECT k.host, k.id, k.sequence, $4 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(host, id, sequence)
           ON CONFLICT (host) DO UPDATE SET id = EXCLUDED.id, sequence = EXCLUDED.sequence, pushed_at = EXCLUDED.pushed_at`,
          [newHeads.map((a) => a.manifest.host), newHeads.map((a) => a.manifest.id), newHeads.map((a) => a.manifest.sequence), pushedAt],
        );
        await c.query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", [CHANNEL, notifyPayloads(newHeads.map((a) => `${a.manifest.host}:${a.manifest.sequence}`))]);
      }
      return outcomes;
    });
  }

  async head(host: string): Promise<BundleHead | undefined> {
    const row = (await this.q<{ id: string; sequence: string; pushed_at: string }>("SELECT id, sequence, pushed_at FROM nixseal_heads WHERE host = $1", [host])).rows[0];
    return row ? { id: row.id, sequence: Number(row.sequence), pushedAt: row.pushed_at } : undefined;
  }

  async heads(): Promise<Map<string, BundleHead>> {
    const r = await this.q<{ host: string; id: string; sequence: string; pushed_at: string }>("SELECT host, id, sequence, pushed_at FROM nixseal_heads");
    return new Map(r.rows.map((row) => [row.host, { id: row.id, sequence: Number(row.sequence), pushedAt: row.pushed_at }]));
  }

  /** A bundle from its row, every file checked against its sha256. */
  private bundleOf(host: string, row: BundleRow): StoredBundle {
    const manifest = JSON.parse(row.manifest) as BundleManifest;
    if (manifest.id !== row.id || manifest.host !== host) throw serverErrors.corrupt([`bundle ${host}/${row.id}`]);
    const files = new Map<string, Buffer>();
    for (const s of manifest.secrets) {
      const b64 = row.files?.[s.sha256];
      const data = b64 === undefined ? undefined : Buffer.from(b64, "base64");
      if (!data || sha256Hex(data) !== s.sha256) throw serverErrors.corrupt([s.sha256]);
      files.set(s.file, data);
    }
    return { id: row.id, host, sequence: Number(row.sequence), pushedAt: row.pushed_at, manifest, files, ...(row.signature ? { signature: row.signature } : {}) };
  }

  async readBundle(host: string, id: string): Promise<StoredBundle | undefined> {
    const row = (await this.q<BundleRow>(`SELECT ${BUNDLE_WITH_FILES} FROM nixseal_bundles b WHERE b.host = $1 AND b.id = $2`, [host, id])).rows[0];
    return row ? this.bundleOf(host, row) : undefined;
  }

  async readLatest(host: string, after = -1): Promise<StoredBundle | undefined> {
    const r = await this.q<BundleRow & { head_id: string; found: boolean }>(
      `SELECT h.id AS head_id, b.id IS NOT NULL AS found, ${BUNDLE_WITH_FILES}
       FROM nixseal_heads h LEFT JOIN nixseal_bundles b ON b.host = h.host AND b.id = h.id WHERE h.host = $1 AND h.sequence > $2`,
      [host, after],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    // A head always names a bundle written in the same transaction; anything else is damage.
    if (!row.found) throw serverErrors.corrupt([`the head of ${host}`]);
    return this.bundleOf(host, row);
  }

  async recordFetch(host: string, f: FetchRecord, e: AuditEvent): Promise<void> {
    const a = auditArrays([e]).map((col) => col[0]);
    await this.q(
      `WITH f AS (INSERT INTO nixseal_fetches (host, id, sequence, at) VALUES ($9, $10, $11, $12) ON CONFLICT (host) DO UPDATE SET id = $10, sequence = $11, at = $12)
       INSERT INTO nixseal_audit (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [...a, host, f.id, f.sequence, f.at],
      this.lazyPool,
    );
  }

  async fetches(): Promise<Map<string, FetchRecord>> {
    const r = await this.q<{ host: string; id: string; sequence: string; at: string }>("SELECT host, id, sequence, at FROM nixseal_fetches");
    return new Map(r.rows.map((row) => [row.host, { id: row.id, sequence: Number(row.sequence), at: row.at }]));
  }

  async audit(events: AuditEvent[], durable = false): Promise<void> {
    if (!events.length) return;
    // Refusals need not wait for the WAL flush (PostgreSQL writes them within moments); pushes do.
    await this.q(`INSERT INTO nixseal_audit (${AUDIT_COLUMNS}) SELECT * FROM ${AUDIT_UNNEST}`, auditArrays(events), durable ? this.pool : this.lazyPool);
  }

  async auditLog(q: AuditQuery): Promise<AuditRecord[]> {
    const r = await this.q<Record<string, string | null>>(
      `SELECT seq, at, actor, action, host, bundle, sequence, detail, remote FROM nixseal_audit
       WHERE ($1::text IS NULL OR host = $1) AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3`,
      [q.host ?? null, q.before ?? null, q.limit],
    );
    return r.rows.map((row) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row)) if (v !== null) out[k] = k === "seq" || k === "sequence" ? Number(v) : v;
      return out as unknown as AuditRecord;
    });
  }

  async claimOnce(key: string, expiresAtMs: number): Promise<boolean> {
    const r = await this.q(
      "INSERT INTO nixseal_claims (key, expires_ms) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET expires_ms = $2 WHERE nixseal_claims.expires_ms <= $3 RETURNING key",
      [key, expiresAtMs, Date.now()],
    );
    return r.rowCount === 1;
  }

  async takeOnce(key: string): Promise<boolean> {
    const r = await this.q("DELETE FROM nixseal_claims WHERE key = $1 RETURNING expires_ms", [key]);
    return r.rowCount === 1 && Number((r.rows[0] as { expires_ms: string }).expires_ms) > Date.now();
  }

  async holds(key: string): Promise<boolean> {
    const r = await this.q("SELECT 1 FROM nixseal_claims WHERE key = $1 AND expires_ms > $2", [key, Date.now()]);
    return r.rowCount === 1;
  }

  onBundle(listener: BundleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** "b host:seq host:seq …" payloads, each under NOTIFY_PAYLOAD_BYTES. */
function notifyPayloads(heads: string[]): string[] {
  const out: string[] = [];
  let cur = "b";
  for (const h of heads) {
    if (cur.length + 1 + h.length > NOTIFY_PAYLOAD_BYTES) {
      out.push(cur);
      cur = "b";
    }
    cur += ` ${h}`;
  }
  if (cur !== "b") out.push(cur);
  return out;
}

// The PostgreSQL store, for several server replicas behind a load balancer. Each push is
// one transaction (blobs, bundle record, head, and a NOTIFY that PostgreSQL delivers to
// every replica when it commits), so readers on any replica see the previous head or
// the new one, whole. Each replica LISTENs on one connection of its own and wakes its
// long-polling hosts; when that connection drops (PostgreSQL restarted) it reconnects
// and wakes every waiter to look again, so no push is missed while it was away.
// Manifests are kept as the exact JSON text they were pushed as (a signature covers
// that text), never as jsonb, which would reorder keys.
import pg from "pg";
import type { BundleManifest } from "../../core/index.js";
import type { BundleSignature } from "../../core/bundle-signing.js";
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
  type FetchRecord,
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

const AUDIT_INSERT = "INSERT INTO nixseal_audit (at, actor, action, host, bundle, sequence, detail, remote) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const auditValues = (e: AuditEvent) => [e.at, e.actor, e.action, e.host ?? null, e.bundle ?? null, e.sequence ?? null, e.detail ?? null, e.remote ?? null];

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
  private readonly listeners = new Set<BundleListener>();
  private listener: pg.Client | undefined;
  private closed = false;
  private fleetCache: { value: StoredFleet | undefined } | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;

  private readonly opts: PostgresStoreOptions;

  constructor(opts: PostgresStoreOptions) {
    this.opts = opts;
    this.pool = new pg.Pool({ ...pgConfig(opts.connectionString), max: opts.poolSize ?? 10, connectionTimeoutMillis: 5000 });
    // An idle connection that PostgreSQL closes (restart) is dropped by the pool; without
    // a listener the error would end the process.
    this.pool.on("error", () => {});
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
    await this.pool.end();
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
      const [kind, host, seq] = (n.payload ?? "").split(" ");
      if (kind === "f") this.fleetCache = undefined;
      else if (kind === "b" && host) for (const l of this.listeners) l(host, Number(seq));
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

  /** Runs a query; connection trouble becomes a 503 the client retries. */
  private async q<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw unavailable(err) ? serverErrors.unavailable([], { cause: err }) : err;
    }
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      throw unavailable(err) ? serverErrors.unavailable([], { cause: err }) : err;
    }
    try {
      await c.query("BEGIN");
      const out = await fn(c);
      await c.query("COMMIT");
      return out;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => {});
      throw unavailable(err) ? serverErrors.unavailable([], { cause: err }) : err;
    } finally {
      c.release();
    }
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

  async saveBundle(manifest: BundleManifest & { sequence: number }, files: Map<string, Buffer>, signature: BundleSignature | undefined): Promise<{ created: boolean; head: BundleHead }> {
    const { host, id, sequence } = manifest;
    const text = JSON.stringify(manifest);
    return this.tx(async (c) => {
      // One push per host at a time, across replicas.
      await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`nixseal-host:${host}`]);
      const head = (await c.query<{ sequence: string }>("SELECT sequence FROM nixseal_heads WHERE host = $1", [host])).rows[0];
      if (head && sequence <= Number(head.sequence)) throw new SequenceConflict(host, Number(head.sequence), sequence);
      const existing = (await c.query<{ manifest: string }>("SELECT manifest FROM nixseal_bundles WHERE host = $1 AND id = $2", [host, id])).rows[0];
      if (existing && !sameContent(JSON.parse(existing.manifest) as BundleManifest, manifest)) throw new IdConflict(host, id);
      for (const s of manifest.secrets) {
        await c.query("INSERT INTO nixseal_blobs (sha256, data) VALUES ($1, $2) ON CONFLICT DO NOTHING", [s.sha256, files.get(s.file)!]);
      }
      const pushedAt = new Date().toISOString();
      await c.query(
        `INSERT INTO nixseal_bundles (host, id, sequence, pushed_at, manifest, signature) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (host, id) DO UPDATE SET sequence = $3, pushed_at = $4, manifest = $5, signature = $6`,
        [host, id, sequence, pushedAt, text, signature ?? null],
      );
      await c.query(
        "INSERT INTO nixseal_heads (host, id, sequence, pushed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (host) DO UPDATE SET id = $2, sequence = $3, pushed_at = $4",
        [host, id, sequence, pushedAt],
      );
      await c.query("SELECT pg_notify($1, $2)", [CHANNEL, `b ${host} ${sequence}`]);
      return { created: existing === undefined, head: { id, sequence, pushedAt } };
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

  async readBundle(host: string, id: string): Promise<StoredBundle | undefined> {
    const row = (
      await this.q<{ sequence: string; pushed_at: string; manifest: string; signature: string | null }>(
        "SELECT sequence, pushed_at, manifest, signature FROM nixseal_bundles WHERE host = $1 AND id = $2",
        [host, id],
      )
    ).rows[0];
    if (!row) return undefined;
    const manifest = JSON.parse(row.manifest) as BundleManifest;
    if (manifest.id !== id || manifest.host !== host) throw serverErrors.corrupt([`bundle ${host}/${id}`]);
    const shas = manifest.secrets.map((s) => s.sha256);
    const blobs = await this.q<{ sha256: string; data: Buffer }>("SELECT sha256, data FROM nixseal_blobs WHERE sha256 = ANY($1)", [shas]);
    const bySha = new Map(blobs.rows.map((b) => [b.sha256, b.data]));
    const files = new Map<string, Buffer>();
    for (const s of manifest.secrets) {
      const data = bySha.get(s.sha256);
      if (!data || sha256Hex(data) !== s.sha256) throw serverErrors.corrupt([s.sha256]);
      files.set(s.file, data);
    }
    return { id, host, sequence: Number(row.sequence), pushedAt: row.pushed_at, manifest, files, ...(row.signature ? { signature: row.signature } : {}) };
  }

  async recordFetch(host: string, f: FetchRecord): Promise<void> {
    await this.q(
      "INSERT INTO nixseal_fetches (host, id, sequence, at) VALUES ($1, $2, $3, $4) ON CONFLICT (host) DO UPDATE SET id = $2, sequence = $3, at = $4",
      [host, f.id, f.sequence, f.at],
    );
  }

  async fetches(): Promise<Map<string, FetchRecord>> {
    const r = await this.q<{ host: string; id: string; sequence: string; at: string }>("SELECT host, id, sequence, at FROM nixseal_fetches");
    return new Map(r.rows.map((row) => [row.host, { id: row.id, sequence: Number(row.sequence), at: row.at }]));
  }

  async audit(e: AuditEvent, durable = false): Promise<void> {
    // Fetches and refusals need not wait for the WAL flush (PostgreSQL writes them within
    // moments); pushes do.
    if (!durable) {
      await this.tx(async (c) => {
        await c.query("SET LOCAL synchronous_commit = off");
        await c.query(AUDIT_INSERT, auditValues(e));
      });
      return;
    }
    await this.q(AUDIT_INSERT, auditValues(e));
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

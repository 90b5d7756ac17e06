// Fixtures for the server tests, all real: an ed25519 host key from ssh-keygen, bundles
// encrypted to it by core (the agent tests' writeBundle), and a logger that keeps every
// line the server writes so tests can grep it.
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { BundleManifest } from "../../core/index.js";
import { execFileSync } from "node:child_process";
import type { FastifyInstance } from "fastify";
import { bundleSigner } from "../../core/bundle-signing.js";
import { parseSshPrivateKey } from "../../core/index.js";
import type { SshPrivateKey } from "../../core/keys/ssh-private.js";
import { FLEET_FORMAT, type FleetState } from "../../core/schema/fleet.js";
import { signRequest, type RequestPrincipal } from "../../core/signed-request.js";
import { FileStore } from "../../server/store/file.js";
import { PostgresStore } from "../../server/store/postgres.js";
import type { Store } from "../../server/store/types.js";
import { startPostgres, type TestPostgres } from "./postgres.js";
import { writeBundle as writeAgentBundle } from "../host-agent/support.js";

export { makeHostKey, writeBundle, grepTree, makeEnv, mountTmpfs, umount, type AgentEnv } from "../host-agent/support.js";

/** A PUT body made from a bundle dir as `nixseal bundle` writes it. */
export function pushBodyOf(dir: string): { manifest: BundleManifest; files: Record<string, string> } {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as BundleManifest;
  const files: Record<string, string> = {};
  for (const s of manifest.secrets) files[s.file] = readFileSync(join(dir, s.file)).toString("base64");
  return { manifest, files };
}

/** The bytes of bundles a file store directory holds (0: none stored). */
export function storedBytes(storage: string): number {
  return existsSync(join(storage, "bundles.log")) ? statSync(join(storage, "bundles.log")).size : 0;
}

/** How often bytes occur in a file. */
export function occurrences(file: string, bytes: Buffer): number {
  const hay = readFileSync(file);
  let n = 0;
  for (let at = hay.indexOf(bytes); at !== -1; at = hay.indexOf(bytes, at + 1)) n++;
  return n;
}

/** A stream that keeps everything written to it (a pino destination, an io stream). */
export function logSink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString("utf8"));
      cb();
    },
  });
  return { stream, text: () => chunks.join("") };
}

/** Every entry under dir: files by content, symlinks by target (for "nothing changed" checks). */
export function snapshotState(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const key = p.slice(dir.length + 1);
      if (e.isSymbolicLink()) out.set(key, `-> ${readlinkSync(p)}`);
      else if (e.isDirectory()) {
        out.set(key, "dir");
        walk(p);
      } else out.set(key, readFileSync(p).toString("base64"));
    }
  };
  walk(dir);
  return out;
}

// --- fleets, signed requests, backends ---------------------------------------------


/** An SSH key made by ssh-keygen, parsed. */
export interface TestKey {
  path: string;
  pub: string;
  key: SshPrivateKey;
}

export async function sshKey(dir: string, name: string, type: "ed25519" | "rsa" = "ed25519"): Promise<TestKey> {
  const path = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "2048"] : []), "-N", "", "-C", name, "-f", path]);
  const pub = readFileSync(`${path}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  return { path, pub, key: await parseSshPrivateKey(readFileSync(path, "utf8"), path) };
}

/** A fleet state of these hosts and admins. */
export function fleetOf(hosts: Record<string, TestKey>, admins: Record<string, TestKey>): FleetState {
  return {
    format: FLEET_FORMAT,
    hosts: Object.fromEntries(Object.entries(hosts).map(([n, k]) => [n, { hostKey: k.pub }])),
    admins: Object.entries(admins).map(([name, k]) => ({ name, key: k.pub })),
  };
}

/** A PUT body for host: a real bundle (encrypted to the host's key), with a sequence, signed by the admin when given. */
export async function signedBundle(dir: string, host: string, hostKey: TestKey, sequence: number, secrets: Array<{ name: string; value: string; version?: number }>, admin?: TestKey, extra: Record<string, unknown> = {}) {
  const b = pushBodyOf(await writeAgentBundle(mkdtempSync(join(dir, `bundle-${host}-`)), hostKey.pub, secrets, host));
  const manifest = { ...b.manifest, sequence, ...extra } as BundleManifest;
  return { manifest, files: b.files, ...(admin ? { signature: bundleSigner(admin.key)(manifest) } : {}) };
}

export type Auth = { token: string } | { key: TestKey; as: RequestPrincipal } | { header: string } | undefined;

/** app.inject with the request signed (or a token, or a raw header). */
export async function call(app: FastifyInstance, method: "GET" | "PUT" | "POST", url: string, auth: Auth, body?: unknown) {
  const payload = body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  const headers: Record<string, string> = {};
  if (payload) headers["content-type"] = "application/json";
  if (auth && "token" in auth) headers.authorization = `Bearer ${auth.token}`;
  else if (auth && "key" in auth) headers.authorization = signRequest(auth.key.key, auth.as, method, url, payload);
  else if (auth && "header" in auth) headers.authorization = auth.header;
  const res = await app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
  let json: any;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, body: res.body, headers: res.headers };
}

/** The two storage backends the same tests run against. */
export interface Backend {
  name: "file" | "postgres";
  /** A fresh, initialised store; fresh(sameAs) opens another store on the same data (a replica). */
  fresh(): Promise<Store>;
  replica(of: Store): Promise<Store>;
  /** PostgreSQL only: the cluster, for fault tests. */
  pg?: TestPostgres;
  cleanup(): Promise<void>;
}

export function fileBackend(dir: string): Backend {
  const roots = new Map<Store, string>();
  const opened: Store[] = [];
  return {
    name: "file",
    async fresh() {
      const root = mkdtempSync(join(dir, "store-"));
      const s = new FileStore(root);
      await s.init();
      roots.set(s, root);
      opened.push(s);
      return s;
    },
    async replica(of) {
      throw new Error(`the file store has no replicas (${roots.get(of)})`);
    },
    async cleanup() {
      for (const s of opened) await s.close().catch(() => {});
    },
  };
}

export function postgresBackend(): Backend {
  let pg: TestPostgres | undefined;
  let n = 0;
  const conns = new Map<Store, string>();
  const opened: Store[] = [];
  const open = async (connectionString: string) => {
    const s = new PostgresStore({ connectionString, poolSize: 4 });
    await s.init();
    conns.set(s, connectionString);
    opened.push(s);
    return s;
  };
  const backend: Backend = {
    name: "postgres",
    async fresh() {
      pg ??= startPostgres();
      backend.pg = pg;
      return open(pg.createDatabase(`t${process.pid}_${++n}`));
    },
    async replica(of) {
      return open(conns.get(of)!);
    },
    async cleanup() {
      for (const s of opened) await s.close().catch(() => {});
      pg?.stop();
    },
  };
  return backend;
}


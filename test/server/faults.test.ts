// Faults with a real PostgreSQL under the server:
//   - PostgreSQL restarted while hosts long-poll (the agent's own follow loop, signing
//     with each host's key): every host reconnects and gets the next push exactly once,
//     including a push made while the server's LISTEN connection was still away;
//   - the server process (dist/server/bin.js) SIGKILLed mid-push at random points: the
//     restarted server serves the previous head or the new one, whole, never a part.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_FORMAT, encrypt, parseRecipient } from "../../core/index.js";
import { parseSshPublicKey } from "../../core/keys/ssh-public.js";
import { follow } from "../../host-agent/pull/client.js";
import { buildServer } from "../../server/app.js";
import { PostgresStore } from "../../server/store/postgres.js";
import { call, fleetOf, signedBundle, sshKey, type TestKey } from "./support.js";
import { startPostgres, type TestPostgres } from "./postgres.js";

const SERVER = join(import.meta.dirname, "..", "..", "dist", "server", "bin.js");
const work = mkdtempSync(join(tmpdir(), "nixseal-server-faults-"));
const TOKEN = randomBytes(24).toString("hex");
const HOSTS = 12;
let pg: TestPostgres;
const keys: Record<string, TestKey> = {};
let alice: TestKey;

beforeAll(async () => {
  pg = startPostgres();
  alice = await sshKey(work, "alice");
  await Promise.all(Array.from({ length: HOSTS }, async (_, i) => (keys[`h${i}`] = await sshKey(work, `h${i}`))));
});
afterAll(() => {
  pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("PostgreSQL restarted while hosts long-poll", () => {
  let app: FastifyInstance;
  let store: PostgresStore;
  beforeAll(async () => {
    store = new PostgresStore({ connectionString: pg.createDatabase("restart"), poolSize: 4 });
    await store.init();
    app = await buildServer({ store, operatorToken: TOKEN });
    await app.listen({ host: "127.0.0.1", port: 0 });
    expect((await call(app, "PUT", "/v1/fleet", { token: TOKEN }, fleetOf(keys, { alice }))).status).toBe(200);
  });
  afterAll(async () => {
    await app.close();
    await store.close();
  });

  const pushAll = async (sequence: number) => {
    for (const h of Object.keys(keys)) {
      const b = await signedBundle(work, h, keys[h]!, sequence, [{ name: "db", value: `v${sequence}` }], alice);
      const r = await call(app, "PUT", `/v1/hosts/${h}/bundles`, { token: TOKEN }, b);
      expect(r.status, r.body).toBe(201);
    }
  };

  it(`${HOSTS} following hosts get each push exactly once across a restart`, { timeout: 90_000 }, async () => {
    await pushAll(1);
    const server = new URL(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`);
    const trusted = [parseSshPublicKey(alice.pub)];
    const got = new Map<string, number[]>(Object.keys(keys).map((h) => [h, []]));
    const errors: string[] = [];
    const stop = new AbortController();
    const loops = Object.keys(keys).map((h) => {
      let after = 0;
      return follow(
        { server, host: h, signer: { key: keys[h]!.key, principal: { kind: "host", host: h } }, trusted },
        {
          after: () => after,
          install: async (b) => {
            got.get(h)!.push(b.manifest.sequence!);
            after = b.manifest.sequence!;
          },
          onError: (err) => errors.push(String((err as Error).message)),
          signal: stop.signal,
          waitSeconds: 30,
        },
      );
    });
    try {
      const all = (seq: number) => [...got.values()].every((s) => s.at(-1) === seq);
      await expect.poll(() => all(1), { timeout: 15_000 }).toBe(true);
      // Every host is now waiting on the server for sequence 2.
      await expect.poll(async () => /nixseal_server_long_polls_open (\d+)/.exec((await call(app, "GET", "/metrics", { token: TOKEN })).body)?.[1], { timeout: 10_000 }).toBe(String(HOSTS));
      pg.restart();
      // Pushed at once, while the server's LISTEN connection is still reconnecting.
      await pushAll(2);
      await expect.poll(() => all(2), { timeout: 30_000 }).toBe(true);
      pg.restart();
      await pushAll(3);
      await expect.poll(() => all(3), { timeout: 30_000 }).toBe(true);
    } finally {
      stop.abort();
      await Promise.all(loops);
    }
    // Exactly once each, in order: none lost, none served twice as new.
    for (const [h, seqs] of got) expect(seqs, h).toEqual([1, 2, 3]);
    // Requests that met the restart were answered 503 (or cut) and retried.
    for (const e of errors) expect(e).toMatch(/not reachable right now|cannot reach|internal error|fetch failed|socket/);
  });
});

describe("the server killed mid-push", () => {
  const start = (conn: string): Promise<{ child: ChildProcess; url: string }> =>
    new Promise((resolve, reject) => {
      const env = { ...process.env };
      delete env.NODE_EXTRA_CA_CERTS;
      const child = spawn(process.execPath, [SERVER, "--postgres", conn, "--token-file", join(work, "token"), "--port", "0"], { stdio: ["ignore", "ignore", "pipe"], env });
      let err = "";
      child.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
        if (m) resolve({ child, url: m[1]! });
      });
      child.on("exit", (code) => reject(new Error(`server exited ${code}: ${err}`)));
    });

  /** A bundle of six 64 KiB files: big enough that a kill lands inside its transaction. */
  const bigBundle = async (host: string, sequence: number) => {
    const recipient = await parseRecipient(keys[host]!.pub);
    const files: Record<string, string> = {};
    const secrets = Array.from({ length: 6 }, (_, i) => {
      const blob = Buffer.from(encrypt(randomBytes(64 * 1024), [recipient]));
      files[`s${i}.age`] = blob.toString("base64");
      return { name: `s${i}`, file: `s${i}.age`, sha256: createHash("sha256").update(blob).digest("hex"), owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: sequence };
    });
    const id = createHash("sha256").update(`${host}-${sequence}-${randomBytes(8).toString("hex")}`).digest("hex");
    return { manifest: { format: BUNDLE_FORMAT, host, id, createdAt: new Date().toISOString(), sequence, secrets }, files };
  };

  it("serves the previous head or the new one, whole, after each of 6 kills", { timeout: 120_000 }, async () => {
    writeFileSync(join(work, "token"), TOKEN + "\n", { mode: 0o600 });
    const conn = pg.createDatabase("killed");
    const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    let { child, url } = await start(conn);
    expect((await fetch(`${url}/v1/fleet`, { method: "PUT", headers: auth, body: JSON.stringify(fleetOf({ h0: keys.h0! }, { alice })) })).status).toBe(200);
    let sequence = 0;
    const confirmed: string[] = [];
    for (let trial = 0; trial < 6; trial++) {
      // Push one after another until the kill; SIGKILL lands a random time into the stream.
      const pushing = (async () => {
        for (;;) {
          const b = await bigBundle("h0", ++sequence);
          const r = await fetch(`${url}/v1/hosts/h0/bundles`, { method: "PUT", headers: auth, body: JSON.stringify(b) }).catch(() => undefined);
          if (!r) return;
          if (r.status === 201) confirmed.push(b.manifest.id);
        }
      })();
      const had = confirmed.length;
      await expect.poll(() => confirmed.length, { timeout: 20_000, interval: 5 }).toBeGreaterThan(had);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 120)); // the fault's moment, not a wait for a condition
      child.kill("SIGKILL");
      await pushing;
      ({ child, url } = await start(conn));
      const head = await fetch(`${url}/v1/hosts/h0/bundles/latest`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(head.status).toBe(200);
      const body = (await head.json()) as { id: string; manifest: { secrets: Array<{ file: string; sha256: string }> }; files: Record<string, string> };
      // The last confirmed push, or one the kill cut off after its commit: never older, never partial.
      const at = confirmed.indexOf(body.id);
      expect(at === -1 || at === confirmed.length - 1, `head ${body.id} is older than the last confirmed push`).toBe(true);
      for (const s of body.manifest.secrets) expect(createHash("sha256").update(Buffer.from(body.files[s.file]!, "base64")).digest("hex")).toBe(s.sha256);
      expect(Object.keys(body.files)).toHaveLength(6);
    }
    child.kill("SIGTERM");
    expect(confirmed.length).toBeGreaterThanOrEqual(6);
  });
});

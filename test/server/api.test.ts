// The server's API, the same tests against both stores: the embedded file store and a
// real PostgreSQL (a cluster of the test's own, test/server/postgres.ts). Hosts sign with
// their own SSH host keys (ed25519 and RSA), operators with an admin key or the token.
// Every abuse case gets its expected status and changes nothing (heads, fleet state,
// stored bundles compared before and after).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyBundleSignature } from "../../core/bundle-signing.js";
import { armorSshsig, signSshsig } from "../../core/keys/sshsig.js";
import { REQUEST_NAMESPACE, signRequest } from "../../core/signed-request.js";
import { buildServer } from "../../server/app.js";
import type { Store } from "../../server/store/types.js";
import { call, fileBackend, fleetOf, postgresBackend, signedBundle, sshKey, type Backend, type TestKey } from "./support.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-server-api-"));
const TOKEN = randomBytes(24).toString("hex");
const keys: Record<string, TestKey> = {};
const backends: Backend[] = [fileBackend(work), postgresBackend()];

beforeAll(async () => {
  keys.web1 = await sshKey(work, "web1", "ed25519");
  keys.web2 = await sshKey(work, "web2", "rsa");
  keys.alice = await sshKey(work, "alice", "ed25519");
  keys.bootstrap = await sshKey(work, "bootstrap", "ed25519");
  keys.stranger = await sshKey(work, "stranger", "ed25519");
});
afterAll(async () => {
  for (const b of backends) await b.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const asHost = (name: string, key = keys[name]!) => ({ key, as: { kind: "host" as const, host: name } });
const asAdmin = (key = keys.alice!) => ({ key, as: { kind: "admin" as const } });

/** Everything a refused request must leave as it was. */
async function state(store: Store) {
  const heads = Object.fromEntries(await store.heads());
  const bundles = await Promise.all(Object.entries(heads).map(async ([h, head]) => [h, (await store.readBundle(h, head.id))?.manifest]));
  return JSON.stringify({ fleet: (await store.fleet())?.state, heads, bundles });
}

describe.each(backends)("$name store", (backend) => {
  let store: Store;
  let app: FastifyInstance;
  const v = (n: number) => `value-${backend.name}-${n}-${randomBytes(6).toString("hex")}`;

  beforeAll(async () => {
    store = await backend.fresh();
    app = await buildServer({ store, operatorToken: TOKEN, adminKeys: [{ name: "bootstrap", key: keys.bootstrap!.pub }] });
  });
  afterAll(async () => {
    await app.close();
  });

  it("lets the first fleet state in with a bootstrap admin key, then only the fleet's admins", async () => {
    expect((await call(app, "PUT", "/v1/fleet", asAdmin(keys.stranger), fleetOf({ web1: keys.web1! }, { alice: keys.alice! }))).status).toBe(401);
    const r = await call(app, "PUT", "/v1/fleet", asAdmin(keys.bootstrap), fleetOf({ web1: keys.web1!, web2: keys.web2! }, { alice: keys.alice! }));
    expect(r.status, r.body).toBe(200);
    expect(r.json).toMatchObject({ hosts: 2, admins: 1 });
    expect((await call(app, "PUT", "/v1/fleet", asAdmin(), fleetOf({ web1: keys.web1!, web2: keys.web2! }, { alice: keys.alice! }))).status).toBe(200);
    expect((await call(app, "PUT", "/v1/fleet", { token: TOKEN }, fleetOf({ web1: keys.web1!, web2: keys.web2! }, { alice: keys.alice! }))).status).toBe(200);
    expect((await store.fleet())!.by).toBe("token");
  });

  it("stores a signed bundle with the next sequence and serves it to its own host only (ed25519 and RSA hosts)", async () => {
    for (const host of ["web1", "web2"]) {
      const body = await signedBundle(work, host, keys[host]!, 1, [{ name: "db", value: v(1) }], keys.alice);
      const put = await call(app, "PUT", `/v1/hosts/${host}/bundles`, asAdmin(), body);
      expect(put.status, put.body).toBe(201);
      expect(put.json).toMatchObject({ id: body.manifest.id, sequence: 1, created: true });
      const got = await call(app, "GET", `/v1/hosts/${host}/bundles/latest`, asHost(host));
      expect(got.status, got.body).toBe(200);
      expect(got.json.sequence).toBe(1);
      expect(got.json.files).toEqual(body.files);
      expect(verifyBundleSignature(got.json.manifest, got.json.signature, [(await import("../../core/keys/ssh-public.js")).parseSshPublicKey(keys.alice!.pub)])).toBe("ok");
      const byId = await call(app, "GET", `/v1/hosts/${host}/bundles/${body.manifest.id}`, asHost(host));
      expect(byId.status).toBe(200);
    }
    expect((await store.fetches()).get("web2")?.sequence).toBe(1);
  });

  it("refuses a sequence that is not above the head, and an unsigned push names no signer", async () => {
    const before = await state(store);
    const again = await signedBundle(work, "web1", keys.web1!, 1, [{ name: "db", value: v(2) }], keys.alice);
    const r = await call(app, "PUT", "/v1/hosts/web1/bundles", asAdmin(), again);
    expect(r.status).toBe(409);
    expect(r.json.code).toBe("NIXSEAL_ERR_SERVER_SEQUENCE");
    expect(r.json.message).toBe("host web1 is at sequence 1 on this server; this bundle has sequence 1");
    const noSeq = await signedBundle(work, "web1", keys.web1!, 1, [{ name: "db", value: v(3) }]);
    delete (noSeq.manifest as { sequence?: number }).sequence;
    expect((await call(app, "PUT", "/v1/hosts/web1/bundles", { token: TOKEN }, noSeq)).status).toBe(400);
    const byStranger = await signedBundle(work, "web1", keys.web1!, 2, [{ name: "db", value: v(4) }], keys.stranger);
    const s = await call(app, "PUT", "/v1/hosts/web1/bundles", { token: TOKEN }, byStranger);
    expect(s.status).toBe(400);
    expect(s.json.code).toBe("NIXSEAL_ERR_SERVER_BUNDLE_SIGNATURE");
    expect(await state(store)).toBe(before);
  });

  describe("abuse: each refused with its status, nothing changed", () => {
    let before: string;
    beforeAll(async () => {
      before = await state(store);
    });
    afterAll(async () => {
      expect(await state(store)).toBe(before);
    });
    const latest = "/v1/hosts/web1/bundles/latest";

    it("no auth, a bad token, a malformed header: 401", async () => {
      for (const auth of [undefined, { token: "wrong-token-0123456789" }, { header: "NixsealSig as=host:web1 t=1 n=zz" }, { header: "Basic Zm9vOmJhcg==" }]) {
        const r = await call(app, "GET", latest, auth);
        expect(r.status).toBe(401);
        expect(r.json.code).toBe("NIXSEAL_ERR_SERVER_UNAUTHORIZED");
      }
    });

    it("a bad signature, and an unknown host, get the very same answer as a known host with the wrong key", async () => {
      const good = signRequest(keys.web1!.key, { kind: "host", host: "web1" }, "GET", latest);
      const flipped = good.replace(/sig=(.)/, (_m, c: string) => `sig=${c === "A" ? "B" : "A"}`);
      const answers = [
        await call(app, "GET", latest, { header: flipped }),
        await call(app, "GET", latest, asHost("web1", keys.stranger)),
        await call(app, "GET", "/v1/hosts/ghost/bundles/latest", asHost("ghost", keys.stranger)),
        await call(app, "GET", "/v1/hosts/ghost/bundles/latest", asHost("ghost", keys.web1)),
      ];
      for (const a of answers) {
        expect(a.status).toBe(401);
        expect(a.body).toBe(answers[1]!.body);
      }
    });

    it("a replayed request: the same header twice, and to another path", async () => {
      const header = signRequest(keys.web1!.key, { kind: "host", host: "web1" }, "GET", latest);
      expect((await call(app, "GET", latest, { header })).status).toBe(200);
      const again = await call(app, "GET", latest, { header });
      expect(again.status).toBe(401);
      expect(again.json.code).toBe("NIXSEAL_ERR_SERVER_REPLAYED");
      const moved = await call(app, "GET", `${latest}?after=0`, { header: signRequest(keys.web1!.key, { kind: "host", host: "web1" }, "GET", latest) });
      expect(moved.status).toBe(401);
    });

    it("a stale timestamp and one from the future: 401 STALE", async () => {
      for (const skew of [-120_000, 120_000]) {
        const header = signRequest(keys.web1!.key, { kind: "host", host: "web1" }, "GET", latest, undefined, Date.now() + skew);
        const r = await call(app, "GET", latest, { header });
        expect(r.status).toBe(401);
        expect(r.json.code).toBe("NIXSEAL_ERR_SERVER_STALE");
      }
    });

    it("a signature of another namespace: 401", async () => {
      const header = signRequest(keys.web1!.key, { kind: "host", host: "web1" }, "GET", latest);
      const m = /t=(\d+) n=([0-9a-f]+) b=([0-9a-f]+)/.exec(header)!;
      const message = Buffer.from([REQUEST_NAMESPACE, "host:web1", "GET", latest, m[1], m[2], m[3]].join("\n"));
      const other = signSshsig(keys.web1!.key, "file", message).toString("base64");
      const r = await call(app, "GET", latest, { header: header.replace(/sig=.*$/, `sig=${other}`) });
      expect(r.status).toBe(401);
      expect(armorSshsig(Buffer.from(other, "base64"))).toContain("BEGIN SSH SIGNATURE");
    });

    it("host A asking for B's bundle, and a host trying to push or read the fleet: 403", async () => {
      for (const url of ["/v1/hosts/web2/bundles/latest", "/v1/hosts/web2/bundles/" + "a".repeat(64)]) {
        const r = await call(app, "GET", url, asHost("web1"));
        expect(r.status).toBe(403);
        expect(r.json.code).toBe("NIXSEAL_ERR_SERVER_FORBIDDEN");
      }
      const body = await signedBundle(work, "web1", keys.web1!, 99, [{ name: "db", value: v(5) }]);
      expect((await call(app, "PUT", "/v1/hosts/web1/bundles", asHost("web1"), body)).status).toBe(403);
      expect((await call(app, "PUT", "/v1/fleet", asHost("web1"), fleetOf({ web1: keys.stranger! }, {}))).status).toBe(403);
      for (const url of ["/v1/fleet", "/v1/audit", "/metrics"]) expect((await call(app, "GET", url, asHost("web1"))).status).toBe(403);
    });

    it("ids and host names with ../ or not hex: 400", async () => {
      for (const url of ["/v1/hosts/..%2Fweb1/bundles/latest", "/v1/hosts/web1/bundles/..%2F..%2Fetc%2Fpasswd", "/v1/hosts/web1/bundles/" + "g".repeat(64), "/v1/hosts/WEB1/bundles/latest", "/v1/hosts/web1/bundles/" + "A".repeat(64)]) {
        const r = await call(app, "GET", url, { token: TOKEN });
        expect(r.status, url).toBe(400);
        expect(r.json.code).toBe("NIXSEAL_ERR_SERVER_BAD_REQUEST");
      }
    });

    it("a signed body that differs from the one signed: 400; JSON nested 10,000 deep: 400", async () => {
      const body = await signedBundle(work, "web1", keys.web1!, 50, [{ name: "db", value: v(6) }], keys.alice);
      const payload = JSON.stringify(body);
      const header = signRequest(keys.alice!.key, { kind: "admin" }, "PUT", "/v1/hosts/web1/bundles", Buffer.from(payload));
      const swapped = await call(app, "PUT", "/v1/hosts/web1/bundles", { header }, payload.replace('"sequence":50', '"sequence":51'));
      expect(swapped.status).toBe(400);
      expect(swapped.json.code).toBe("NIXSEAL_ERR_SERVER_BODY_MISMATCH");
      const deep = "[".repeat(10_000) + "]".repeat(10_000);
      for (const text of [deep, `{"manifest":${deep},"files":{}}`]) {
        const r = await call(app, "PUT", "/v1/hosts/web1/bundles", asAdmin(), text);
        expect(r.status).toBe(400);
        expect(r.json.message).toMatch(/nested deeper than 32 levels/);
      }
    });

    it("the refusals are in the audit log, without tokens or signatures", async () => {
      const log = await call(app, "GET", "/v1/audit?limit=200", { token: TOKEN });
      expect(log.status).toBe(200);
      const reasons = new Set(log.json.events.filter((e: { action: string }) => e.action === "refused").map((e: { detail: string }) => e.detail.split(":")[0]));
      for (const r of ["none", "bad-token", "malformed", "mismatch", "unknown-key", "replayed", "stale", "namespace", "other-host", "host-not-allowed"]) expect(reasons, r).toContain(r);
      expect(log.body).not.toContain(TOKEN);
      expect(log.body).not.toContain("sig=");
    });
  });

  it("long-polls: a waiting host gets the push at once, a quiet one 204 after its wait", async () => {
    const head = (await store.head("web1"))!;
    const quiet = await call(app, "GET", `/v1/hosts/web1/bundles/latest?after=${head.sequence}&wait=1`, asHost("web1"));
    expect(quiet.status).toBe(204);
    const t0 = Date.now();
    const waiting = call(app, "GET", `/v1/hosts/web1/bundles/latest?after=${head.sequence}&wait=30`, asHost("web1"));
    await expect.poll(() => app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => /nixseal_server_long_polls_open 1/.test(r.body)), { timeout: 5000 }).toBe(true);
    const next = await signedBundle(work, "web1", keys.web1!, head.sequence + 1, [{ name: "db", value: v(7), version: 2 }], keys.alice);
    expect((await call(app, "PUT", "/v1/hosts/web1/bundles", asAdmin(), next)).status).toBe(201);
    const got = await waiting;
    expect(got.status).toBe(200);
    expect(got.json.sequence).toBe(head.sequence + 1);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("answers /metrics and the fleet report to operators", async () => {
    const m = await call(app, "GET", "/metrics", asAdmin());
    expect(m.status).toBe(200);
    for (const name of ["nixseal_server_requests_total", "nixseal_server_auth_failures_total", "nixseal_server_bundles_served_total", "nixseal_server_long_polls_open", "nixseal_server_storage_seconds_count"]) expect(m.body).toContain(name);
    const f = await call(app, "GET", "/v1/fleet", { token: TOKEN });
    expect(f.json.hosts.map((h: { name: string; state: string }) => `${h.name}:${h.state}`)).toEqual(["web1:current", "web2:current"]);
  });

  it.runIf(backend.name === "postgres")("two replicas: a push on one wakes a host waiting on the other; a nonce used on one is refused on the other", async () => {
    const other = await backend.replica(store);
    const app2 = await buildServer({ store: other, operatorToken: TOKEN });
    try {
      const head = (await store.head("web2"))!;
      const waiting = call(app2, "GET", `/v1/hosts/web2/bundles/latest?after=${head.sequence}&wait=30`, asHost("web2"));
      await expect.poll(() => app2.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => /nixseal_server_long_polls_open 1/.test(r.body)), { timeout: 5000 }).toBe(true);
      const next = await signedBundle(work, "web2", keys.web2!, head.sequence + 1, [{ name: "db", value: v(8), version: 2 }], keys.alice);
      expect((await call(app, "PUT", "/v1/hosts/web2/bundles", asAdmin(), next)).status).toBe(201);
      expect((await waiting).json.sequence).toBe(head.sequence + 1);
      const header = signRequest(keys.web2!.key, { kind: "host", host: "web2" }, "GET", "/v1/hosts/web2/bundles/latest");
      expect((await call(app, "GET", "/v1/hosts/web2/bundles/latest", { header })).status).toBe(200);
      expect((await call(app2, "GET", "/v1/hosts/web2/bundles/latest", { header })).json.code).toBe("NIXSEAL_ERR_SERVER_REPLAYED");
    } finally {
      await app2.close();
    }
  });

  it("a batch upload: per-host results in order, a refused bundle holds back no other, waiting hosts are woken once it is stored", async () => {
    const heads = (await call(app, "GET", "/v1/heads", asAdmin())).json.heads as Record<string, { sequence: number }>;
    expect(Object.keys(heads).sort()).toEqual(["web1", "web2"]);
    expect((await call(app, "GET", "/v1/heads", asHost("web1"))).status).toBe(403);
    const s1 = heads.web1!.sequence;
    const s2 = heads.web2!.sequence;
    const waiting = call(app, "GET", `/v1/hosts/web2/bundles/latest?after=${s2}&wait=30`, asHost("web2"));
    await expect.poll(() => app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => /nixseal_server_long_polls_open 1/.test(r.body)), { timeout: 5000 }).toBe(true);
    const good1 = await signedBundle(work, "web1", keys.web1!, s1 + 1, [{ name: "db", value: v(9), version: 3 }], keys.alice);
    const good2 = await signedBundle(work, "web2", keys.web2!, s2 + 1, [{ name: "db", value: v(10), version: 3 }], keys.alice);
    const stale = await signedBundle(work, "web1", keys.web1!, s1, [{ name: "db", value: v(11), version: 3 }], keys.alice);
    const ghost = await signedBundle(work, "ghost", keys.web1!, 1, [{ name: "db", value: v(12) }], keys.alice);
    const forged = await signedBundle(work, "web2", keys.web2!, s2 + 1, [{ name: "db", value: v(13) }], keys.stranger);
    // One host twice in one upload is ambiguous: the whole request is refused, nothing stored.
    const before = await state(store);
    const twice = await call(app, "POST", "/v1/bundles", asAdmin(), { bundles: [good1, stale] });
    expect([twice.status, twice.json.code, twice.json.message]).toEqual([400, "NIXSEAL_ERR_SERVER_BAD_REQUEST", "bad request: host web1 has more than one bundle in this upload: send one per host"]);
    const tooMany = await call(app, "POST", "/v1/bundles", { token: TOKEN }, { bundles: Array.from({ length: 1001 }, () => ({ manifest: {}, files: {} })) });
    expect(tooMany.status).toBe(400);
    expect(await state(store)).toBe(before);
    // A refusal per host, the good ones stored.
    const r1 = await call(app, "POST", "/v1/bundles", asAdmin(), { bundles: [stale, ghost] });
    expect(r1.status, r1.body).toBe(200);
    expect(r1.json.results.map((x: { host: string; ok: boolean; status?: number; code?: string }) => [x.host, x.ok, x.status, x.code])).toEqual([
      ["web1", false, 409, "NIXSEAL_ERR_SERVER_SEQUENCE"],
      ["ghost", false, 409, "NIXSEAL_ERR_SERVER_NO_FLEET"],
    ]);
    const r2 = await call(app, "POST", "/v1/bundles", asAdmin(), { bundles: [forged, good1] });
    expect(r2.json.results.map((x: { host: string; ok: boolean; code?: string }) => [x.host, x.ok, x.code])).toEqual([
      ["web2", false, "NIXSEAL_ERR_SERVER_BUNDLE_SIGNATURE"],
      ["web1", true, undefined],
    ]);
    expect(r2.json.results[1]).toMatchObject({ id: good1.manifest.id, sequence: s1 + 1, created: true });
    const r3 = await call(app, "POST", "/v1/bundles", { token: TOKEN }, { bundles: [good2] });
    expect(r3.json.results[0]).toMatchObject({ host: "web2", ok: true, sequence: s2 + 1 });
    const woken = await waiting;
    expect([woken.status, woken.json.id]).toEqual([200, good2.manifest.id]);
    // Each stored bundle audited as a push, by who sent it.
    const log = (await call(app, "GET", "/v1/audit?limit=20", { token: TOKEN })).json.events as Array<{ action: string; host?: string; actor: string; sequence?: number }>;
    expect(log.filter((e) => e.action === "push-bundle").slice(0, 2).map((e) => [e.host, e.actor, e.sequence])).toEqual([
      ["web2", "token", s2 + 1],
      ["web1", "admin:alice", s1 + 1],
    ]);
  });
});

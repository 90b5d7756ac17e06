// nixseal push's batch uploader (cli/server/upload-bundles.ts) against a real server on
// loopback: bundles go in batches bounded in bytes and count, a few at once; a batch the
// server finds too large is split until it fits, a single bundle over the server's
// limit fails alone; every host gets its own result, in one POST per batch.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestJson } from "../../core/http-json.js";
import { buildServer } from "../../server/app.js";
import { BundleUploader, type UploadBody } from "../../cli/server/upload-bundles.js";
import { fleetOf, signedBundle, sshKey, type TestKey } from "./support.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-upload-"));
const TOKEN = randomBytes(24).toString("hex");
const HOSTS = Array.from({ length: 12 }, (_, i) => `web${i}`);
let key: TestKey;
let server: FastifyInstance;
let url: URL;
const posts: number[] = [];

beforeAll(async () => {
  key = await sshKey(work, "host");
  // A small body limit: a dozen small bundles do not fit in one request.
  server = await buildServer({ storageDir: join(work, "store"), operatorToken: TOKEN, bodyLimit: 16 * 1024 });
  server.addHook("onRequest", async (req) => {
    if (req.method === "POST") posts.push(Number(req.headers["content-length"] ?? 0));
  });
  await server.listen({ host: "127.0.0.1", port: 0 });
  url = new URL(`http://127.0.0.1:${(server.server.address() as AddressInfo).port}/`);
  await requestJson(url, "v1/fleet", { method: "PUT", token: TOKEN, body: fleetOf(Object.fromEntries(HOSTS.map((h) => [h, key])), {}), timeoutMs: 10_000, maxBytes: 1 << 20 });
});
afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

const call = (method: "POST", path: string, body: unknown) => requestJson(url, path, { method, token: TOKEN, body, timeoutMs: 30_000, maxBytes: 1 << 20 });

describe("BundleUploader", () => {
  it("sends batches bounded in count, splits one the server refuses as too large, and fails alone a bundle over the limit", async () => {
    const bodies = await Promise.all(HOSTS.map((h) => signedBundle(work, h, key, 1, [{ name: "db", value: `v-${h}` }])));
    const huge = await signedBundle(work, "web11", key, 1, [{ name: "db", value: "x".repeat(20 * 1024) }]);
    bodies[11] = huge;
    const seen: string[] = [];
    // Bytes bound far above the server's limit, count bound 5: batches of 5, 5 and 2, the first two split by the server's 413.
    const up = new BundleUploader(call, url.origin, { maxBytes: 1 << 20, maxBundles: 5, parallel: 2 });
    up.onResult = (r) => seen.push(r.host);
    for (const b of bodies) await up.add(b as UploadBody);
    const results = await up.finish();
    expect([...results.keys()].sort()).toEqual([...HOSTS].sort());
    expect(seen.sort()).toEqual([...HOSTS].sort());
    for (const h of HOSTS.slice(0, 11)) expect(results.get(h), h).toMatchObject({ ok: true, sequence: 1, created: true });
    expect(results.get("web11")).toMatchObject({ ok: false, code: "NIXSEAL_ERR_SERVER_BODY_TOO_LARGE" });
    // More than the 3 batches went out (the server's 413s split them), none over the limit got through.
    expect(posts.length).toBeGreaterThan(3);
    const heads = (await requestJson(url, "v1/heads", { token: TOKEN, timeoutMs: 10_000, maxBytes: 1 << 20 })) as { heads: Record<string, unknown> };
    expect(Object.keys(heads.heads).sort()).toEqual(HOSTS.slice(0, 11).sort());
  });

  it("keeps batches under its byte bound: each request at most maxBytes unless one bundle is larger", async () => {
    posts.length = 0;
    const bodies = await Promise.all(HOSTS.slice(0, 6).map((h) => signedBundle(work, h, key, 2, [{ name: "db", value: `w-${h}` }])));
    const one = JSON.stringify(bodies[0]).length;
    const up = new BundleUploader(call, url.origin, { maxBytes: Math.floor(one * 2.5), maxBundles: 100 });
    for (const b of bodies) await up.add(b as UploadBody);
    const results = await up.finish();
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect(posts.length).toBe(3);
    for (const bytes of posts) expect(bytes).toBeLessThanOrEqual(Math.floor(one * 2.5) + 64);
  });
});

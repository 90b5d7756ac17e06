// The server's routes through inject(), with the operator token: what is stored (and
// that a refused push stores nothing), bundle checks, bodies of 500s, and logs that never
// hold a request body, a token or a value. Signed requests, both stores and the abuse
// cases are in api.test.ts.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleSigner } from "../../core/bundle-signing.js";
import { buildServer } from "../../server/app.js";
import { serverErrors } from "../../server/errors.js";
import { snapshotTree } from "../cli/harness.js";
import { logSink, makeHostKey, mountTmpfs, occurrences, pushBodyOf, sshKey, storedBytes, umount, writeBundle } from "./support.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-server-app-"));
const OPERATOR = `op-${randomBytes(16).toString("hex")}`;
const VALUES = [`plain-${randomBytes(12).toString("hex")}`, `plain-${randomBytes(12).toString("hex")}`, `plain-${randomBytes(12).toString("hex")}`];
const log = logSink();
const replies: LightMyRequestResponse[] = [];
let app: FastifyInstance;
let storage: string;
let b1: ReturnType<typeof pushBodyOf>;
let b2: ReturnType<typeof pushBodyOf>;

async function call(method: "GET" | "PUT" | "POST", url: string, opts: { token?: string; body?: unknown; raw?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = {};
  const token = opts.token ?? OPERATOR;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.contentType) headers["content-type"] = opts.contentType;
  const r = await app.inject({ method, url, headers, ...(opts.raw !== undefined ? { payload: opts.raw } : opts.body !== undefined ? { payload: opts.body as object } : {}) });
  replies.push(r);
  return r;
}

let sequence = 0;
/** PUT with the next sequence (unless the body sets one). */
const put = (host: string, body: unknown, token = OPERATOR) => {
  const b = structuredClone(body) as { manifest?: { sequence?: number } };
  if (b.manifest && typeof b.manifest === "object" && b.manifest.sequence === undefined) b.manifest.sequence = ++sequence;
  return call("PUT", `/v1/hosts/${host}/bundles`, { token, body: b });
};
const clone = <T>(v: T): T => structuredClone(v);

beforeAll(async () => {
  const { pub } = makeHostKey(work);
  b1 = pushBodyOf(await writeBundle(join(work, "b1"), pub, [{ name: "db", value: VALUES[0]! }, { name: "api", value: VALUES[1]! }], "web1"));
  b2 = pushBodyOf(await writeBundle(join(work, "b2"), pub, [{ name: "db", value: VALUES[2]! }], "web1"));
  storage = join(work, "storage");
  app = await buildServer({ storageDir: storage, operatorToken: OPERATOR, logger: { level: "info", stream: log.stream } as never, bodyLimit: 256 * 1024 });
  const hosts = Object.fromEntries(["web1", "web2", "web3"].map((h) => [h, { hostKey: pub.split(" ").slice(0, 2).join(" ") }]));
  expect((await call("PUT", "/v1/fleet", { body: { format: "nixseal-fleet/v1", hosts, admins: [] } })).statusCode).toBe(200);
});

afterAll(async () => {
  await app.close();
  rmSync(work, { recursive: true, force: true });
});

describe("server routes", () => {
  it("GET /v1/health", async () => {
    const r = await call("GET", "/v1/health");
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ ok: true });
  });

  it("PUT needs the operator token, checked before the body is read", async () => {
    const none = await put("web1", b1, "");
    expect(none.statusCode).toBe(401);
    expect(none.headers["www-authenticate"]).toMatch(/^NixsealSig realm="nixseal", Bearer/);
    expect(none.json().code).toBe("NIXSEAL_ERR_SERVER_UNAUTHORIZED");
    const wrong = await put("web1", b1, OPERATOR.slice(0, -1) + "x");
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().message).toMatch(/not accepted/);
    // A body far over the limit without a token is refused as unauthorised, not parsed.
    const huge = await call("PUT", "/v1/hosts/web1/bundles", { token: "", raw: "x".repeat(1024 * 1024), contentType: "application/json" });
    expect(huge.statusCode).toBe(401);
    expect(storedBytes(storage)).toBe(0);
  });

  it("GET latest before any push: 404 NO_BUNDLE", async () => {
    const r = await call("GET", "/v1/hosts/web1/bundles/latest");
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: "NIXSEAL_ERR_SERVER_NO_BUNDLE", hints: [expect.stringContaining("nixseal push")] });
  });

  it("stores a bundle, answers its id, serves it back byte for byte", async () => {
    const r = await put("web1", b1);
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ id: b1.manifest.id, host: "web1", created: true });
    const latest = await call("GET", "/v1/hosts/web1/bundles/latest");
    expect(latest.statusCode).toBe(200);
    const body = latest.json();
    expect(body.id).toBe(b1.manifest.id);
    expect(body.manifest).toEqual({ ...b1.manifest, sequence: body.sequence });
    expect(body.files).toEqual(b1.files);
    const byId = await call("GET", `/v1/hosts/web1/bundles/${b1.manifest.id}`);
    expect(byId.json()).toEqual(body);
    // Each .age file is in the store's log exactly once, as sent.
    for (const s of b1.manifest.secrets) expect(occurrences(join(storage, "bundles.log"), Buffer.from(b1.files[s.file]!, "base64"))).toBe(1);
  });

  it("the same bundle again is not stored twice; latest follows the last push", async () => {
    const again = clone(b1);
    again.manifest.createdAt = new Date(Date.now() + 5000).toISOString();
    const r = await put("web1", again);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ id: b1.manifest.id, created: false });
    expect((await put("web1", b2)).statusCode).toBe(201);
    expect((await call("GET", "/v1/hosts/web1/bundles/latest")).json().id).toBe(b2.manifest.id);
    expect((await call("GET", `/v1/hosts/web1/bundles/${b1.manifest.id}`)).statusCode).toBe(200);
    expect((await put("web1", b1)).statusCode).toBe(200);
    expect((await call("GET", "/v1/hosts/web1/bundles/latest")).json().id).toBe(b1.manifest.id);
    expect((await put("web1", b2)).statusCode).toBe(200);
  });

  it("keeps the operator's signature with the manifest it covers and serves both", async () => {
    const admin = await sshKey(work, "admin");
    const fleet = { format: "nixseal-fleet/v1", hosts: Object.fromEntries(["web1", "web2", "web3"].map((h) => [h, { hostKey: admin.pub }])), admins: [{ name: "admin", key: admin.pub }] };
    expect((await call("PUT", "/v1/fleet", { body: fleet })).statusCode).toBe(200);
    const signed = clone(b2);
    signed.manifest.createdAt = new Date(Date.now() + 9000).toISOString();
    signed.manifest.sequence = ++sequence;
    const signature = bundleSigner(admin.key)(signed.manifest);
    expect((await put("web1", { ...signed, signature })).statusCode).toBe(200);
    const got = (await call("GET", "/v1/hosts/web1/bundles/latest")).json();
    expect(got.signature).toEqual(signature);
    expect(got.manifest).toEqual(signed.manifest);
    for (const [bad, code] of [[5, "NIXSEAL_ERR_SERVER_BAD_REQUEST"], ["short", "NIXSEAL_ERR_SERVER_BUNDLE_SIGNATURE"], [signature.replace(/[A-Za-z](?=[^\n]*\n-----END)/, "A"), "NIXSEAL_ERR_SERVER_BUNDLE_SIGNATURE"]] as const) {
      const r = await put("web1", { ...clone(b2), signature: bad });
      expect([r.statusCode, r.json().code]).toEqual([400, code]);
    }
    // An unsigned push of the same content replaces the record: no stale signature is served.
    expect((await put("web1", b2)).statusCode).toBe(200);
    expect((await call("GET", "/v1/hosts/web1/bundles/latest")).json().signature).toBeUndefined();
  });

  it("another bundle under a taken id: 409 CONFLICT, the stored one stays", async () => {
    const forged = clone(b1);
    forged.manifest.secrets[0]!.mode = "0444";
    const r = await put("web1", forged);
    expect(r.statusCode).toBe(409);
    expect(r.json().code).toBe("NIXSEAL_ERR_SERVER_BUNDLE_CONFLICT");
    expect((await call("GET", `/v1/hosts/web1/bundles/${b1.manifest.id}`)).json().manifest).toMatchObject(b1.manifest);
  });

  const badBundles: Array<[string, (b: ReturnType<typeof pushBodyOf>) => unknown, RegExp]> = [
    ["a manifest of another format", (b) => ((b.manifest as { format: string }).format = "nixseal-bundle/v0"), /at \$\.format/],
    ["a manifest with an unknown key", (b) => Object.assign(b.manifest, { extra: 1 }), /manifest\.json: at \$/],
    ["a bad secret name", (b) => (b.manifest.secrets[0]!.name = "../etc"), /at \$\.secrets\[\d\]\.name/],
    ["another host's manifest", (b) => (b.manifest.host = "web2"), /is for host web2/],
    ["a missing file", (b) => delete b.files[b.manifest.secrets[0]!.file], /\.age is missing/],
    ["a file the manifest does not name", (b) => (b.files["extra.age"] = b.files[b.manifest.secrets[0]!.file]!), /extra\.age is not named/],
    ["a file that does not match its sha256", (b) => (b.files[b.manifest.secrets[0]!.file] = Buffer.from("age-encryption.org/v1\n-> X\n").toString("base64")), /does not match its sha256/],
    ["non-canonical base64", (b) => (b.files[b.manifest.secrets[0]!.file] += "="), /not canonical base64/],
    ["a file named by two secrets", (b) => (b.manifest.secrets[1]!.file = b.manifest.secrets[0]!.file), /named by two secrets/],
    [
      "a file that is not an age file",
      (b) => {
        const bytes = Buffer.from("-----BEGIN AGE ENCRYPTED FILE-----\nnot really\n");
        b.files[b.manifest.secrets[0]!.file] = bytes.toString("base64");
        b.manifest.secrets[0]!.sha256 = createHash("sha256").update(bytes).digest("hex");
      },
      /is not an age v1 file/,
    ],
  ];
  for (const [what, spoil, message] of badBundles) {
    it(`refuses ${what}: 400 BAD_BUNDLE, nothing stored`, async () => {
      const before = snapshotTree(storage);
      const body = clone(b1);
      spoil(body);
      const r = await put("web1", body);
      expect(r.statusCode).toBe(400);
      expect(r.json().code).toBe("NIXSEAL_ERR_SERVER_BAD_BUNDLE");
      expect(r.json().message).toMatch(message);
      expect(r.json().hints[0]).toMatch(/nixseal push/);
      expect(snapshotTree(storage)).toEqual(before);
    });
  }

  it("refuses bodies of the wrong shape, type or size without echoing them", async () => {
    const noFiles = await put("web1", { manifest: b1.manifest });
    expect([noFiles.statusCode, noFiles.json().code]).toEqual([400, "NIXSEAL_ERR_SERVER_BAD_REQUEST"]);
    expect(noFiles.json().message).toMatch(/files/);
    const notString = await put("web1", { manifest: b1.manifest, files: { "db.age": 5 } });
    expect([notString.statusCode, notString.json().code]).toEqual([400, "NIXSEAL_ERR_SERVER_BAD_REQUEST"]);
    expect(notString.json().message).toMatch(/must be string/);
    const extra = await put("web1", { ...b1, note: "x" });
    expect([extra.statusCode, extra.json().message]).toEqual([400, "bad request: body must NOT have additional properties"]);
    const secretish = `{"manifest": ${VALUES[0]}`;
    const badJson = await call("PUT", "/v1/hosts/web1/bundles", { token: OPERATOR, raw: secretish, contentType: "application/json" });
    expect([badJson.statusCode, badJson.json().message]).toEqual([400, "bad request: the body is not valid JSON"]);
    const text = await call("PUT", "/v1/hosts/web1/bundles", { token: OPERATOR, raw: VALUES[0], contentType: "text/plain" });
    expect([text.statusCode, text.json().code]).toEqual([415, "NIXSEAL_ERR_SERVER_BAD_REQUEST"]);
    const big = clone(b1);
    big.files["pad.age"] = "A".repeat(300 * 1024);
    const tooBig = await put("web1", big);
    expect([tooBig.statusCode, tooBig.json().code]).toEqual([413, "NIXSEAL_ERR_SERVER_BODY_TOO_LARGE"]);
    expect(tooBig.json().message).toBe(`request body is larger than ${256 * 1024} bytes`);
  });

  it("checks host names and ids in paths", async () => {
    const host = await call("GET", "/v1/hosts/Web_1/bundles/latest");
    expect([host.statusCode, host.json().code]).toEqual([400, "NIXSEAL_ERR_SERVER_BAD_REQUEST"]);
    const putHost = await put("-web", b1);
    expect(putHost.statusCode).toBe(400);
    const id = await call("GET", "/v1/hosts/web1/bundles/../../etc");
    expect(id.statusCode).toBeGreaterThanOrEqual(400);
    const shortId = await call("GET", "/v1/hosts/web1/bundles/abc");
    expect([shortId.statusCode, shortId.json().message]).toEqual([400, "bad request: a bundle id is 64 lowercase hex digits"]);
    const unknown = await call("GET", `/v1/hosts/web1/bundles/${"0".repeat(64)}`);
    expect([unknown.statusCode, unknown.json().code]).toEqual([404, "NIXSEAL_ERR_SERVER_BUNDLE_NOT_FOUND"]);
    const otherHost = await call("GET", `/v1/hosts/web2/bundles/${b1.manifest.id}`);
    expect(otherHost.statusCode).toBe(404);
  });

  it("unknown routes answer the catalogue's 404", async () => {
    const r = await call("POST", "/v1/hosts/web1/bundles/latest");
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: "NIXSEAL_ERR_SERVER_ROUTE_NOT_FOUND", message: "no route POST /v1/hosts/web1/bundles/latest" });
  });

  it("damage on disk is never served: 500 with a body that reveals nothing", async () => {
    const s = b1.manifest.secrets[0]!;
    const logFile = join(storage, "bundles.log");
    const good = readFileSync(logFile);
    const bad = Buffer.from(good);
    // Flip a byte of the file where the log holds it.
    const file = Buffer.from(b1.files[s.file]!, "base64");
    for (let at = good.indexOf(file); at !== -1; at = good.indexOf(file, at + 1)) bad[at + 30] ^= 0x01;
    writeFileSync(logFile, bad);
    try {
      const r = await call("GET", `/v1/hosts/web1/bundles/${b1.manifest.id}`);
      expect(r.statusCode).toBe(500);
      expect(r.json()).toEqual({ code: "NIXSEAL_ERR_SERVER_INTERNAL", message: "internal error", hints: ["see the server's log; report it if it repeats"] });
      expect(r.body).not.toContain(s.sha256);
      expect(r.body).not.toContain(storage);
      expect(log.text()).toContain("NIXSEAL_ERR_SERVER_CORRUPT");
    } finally {
      writeFileSync(logFile, good);
    }
    expect((await call("GET", `/v1/hosts/web1/bundles/${b1.manifest.id}`)).statusCode).toBe(200);
  });

  it("a storage failure while pushing (a full filesystem): 500 that reveals nothing, the stored bundles stay", async () => {
    const mnt = mkdtempSync(join(work, "full-"));
    mountTmpfs(mnt, "128k");
    const small = await buildServer({ storageDir: join(mnt, "store"), operatorToken: OPERATOR, logger: { level: "info", stream: log.stream } as never });
    try {
      const { pub } = makeHostKey(mkdtempSync(join(work, "key-")));
      const hosts = { web3: { hostKey: pub.split(" ").slice(0, 2).join(" ") } };
      expect((await small.inject({ method: "PUT", url: "/v1/fleet", headers: { authorization: `Bearer ${OPERATOR}` }, payload: { format: "nixseal-fleet/v1", hosts, admins: [] } })).statusCode).toBe(200);
      const fits = pushBodyOf(await writeBundle(join(work, "fits"), pub, [{ name: "db", value: VALUES[0]! }], "web3"));
      const tooBig = pushBodyOf(await writeBundle(join(work, "too-big"), pub, [{ name: "db", value: VALUES[1]! + "x".repeat(200 * 1024) }], "web3"));
      const putSmall = (b: typeof fits, sequence: number) =>
        small.inject({ method: "PUT", url: "/v1/hosts/web3/bundles", headers: { authorization: `Bearer ${OPERATOR}` }, payload: { ...b, manifest: { ...b.manifest, sequence } } });
      expect((await putSmall(fits, 1)).statusCode).toBe(201);
      const r = await putSmall(tooBig, 2);
      replies.push(r);
      expect(r.statusCode).toBe(500);
      expect(r.json().message).toBe("internal error");
      expect(r.body).not.toContain(mnt);
      expect(r.body).not.toContain("ENOSPC");
      expect(log.text()).toMatch(/ENOSPC/);
      const latest = await small.inject({ method: "GET", url: "/v1/hosts/web3/bundles/latest", headers: { authorization: `Bearer ${OPERATOR}` } });
      expect([latest.statusCode, latest.json().id]).toEqual([200, fits.manifest.id]);
    } finally {
      await small.close();
      umount(mnt);
    }
  });
});

describe("what the server lets out", () => {
  it("no reply and no log line holds a value, a token or a request body", () => {
    expect(replies.length).toBeGreaterThan(30);
    const logs = log.text();
    expect(logs).toContain('"msg":"bundle stored"');
    const fileText = Object.values(b1.files)[0]!;
    for (const needle of [...VALUES, OPERATOR]) {
      for (const r of replies) expect(r.body).not.toContain(needle);
      expect(logs).not.toContain(needle);
    }
    expect(logs).not.toContain(fileText.slice(0, 40));
    expect(logs).not.toContain("authorization");
  });
});

describe("the error catalogue", () => {
  it("every code is unique, NIXSEAL_ERR_SERVER_*, and has a row under ## Server in docs/errors.md", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "errors.md"), "utf8");
    const section = doc.slice(doc.indexOf("\n## Server\n"));
    expect(section.length).toBeGreaterThan(100);
    const codes = Object.values(serverErrors).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const e of Object.values(serverErrors)) {
      expect(e.code).toMatch(/^NIXSEAL_ERR_SERVER_[A-Z_]+$/);
      // The HTTP column: usage errors are exit codes of the command line, not replies.
      const status = e.code === "NIXSEAL_ERR_SERVER_USAGE" ? "(exit 2)" : String(e.statusCode);
      expect(section).toContain(`| ${e.code} | ${status}`);
    }
  });
});

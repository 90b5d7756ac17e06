// Abuse that only shows on a real socket (the server listening on 127.0.0.1): a 100 MB
// body, with and without credentials, sent with a length and chunked; and slow clients
// holding connections open (slowloris). Each is cut off with its status while the
// server goes on serving a signed fetch, and nothing is stored.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "../../core/signed-request.js";
import { buildServer } from "../../server/app.js";
import type { Store } from "../../server/store/types.js";
import { call, fileBackend, fleetOf, signedBundle, sshKey, type TestKey } from "./support.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-server-abuse-"));
const TOKEN = randomBytes(24).toString("hex");
const backend = fileBackend(work);
let store: Store;
let app: FastifyInstance;
let port: number;
let web1: TestKey;
let alice: TestKey;

beforeAll(async () => {
  web1 = await sshKey(work, "web1");
  alice = await sshKey(work, "alice");
  store = await backend.fresh();
  app = await buildServer({ store, operatorToken: TOKEN, bodyLimit: 1024 * 1024, headersTimeoutMs: 1500, requestTimeoutMs: 3000 });
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as AddressInfo).port;
  expect((await call(app, "PUT", "/v1/fleet", { token: TOKEN }, fleetOf({ web1 }, { alice }))).status).toBe(200);
  const b = await signedBundle(work, "web1", web1, 1, [{ name: "db", value: "v" }], alice);
  expect((await call(app, "PUT", "/v1/hosts/web1/bundles", { token: TOKEN }, b)).status).toBe(201);
});
afterAll(async () => {
  await app.close();
  await backend.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** A signed fetch over the socket, as a host does it. */
async function fetchAsHost(): Promise<number> {
  const path = "/v1/hosts/web1/bundles/latest";
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: signRequest(web1.key, { kind: "host", host: "web1" }, "GET", path) }, signal: AbortSignal.timeout(5000) });
  await r.arrayBuffer();
  return r.status;
}

/** Sends a request head, then `bodyBytes` of body in 1 MiB chunks as fast as the server takes them; resolves with the status line the server answered, and how much was sent. */
function sendBig(headers: Record<string, string>, bodyBytes: number, chunked: boolean): Promise<{ status: number; sent: number }> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(port, "127.0.0.1");
    let answer = "";
    let sent = 0;
    const chunk = Buffer.alloc(1024 * 1024, 0x5b); // "[[[[": not even JSON
    s.on("data", (d) => {
      answer += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (m) {
        s.destroy();
        resolve({ status: Number(m[1]), sent });
      }
    });
    s.on("error", () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (m) resolve({ status: Number(m[1]), sent });
      else reject(new Error(`connection ended without an answer after ${sent} bytes`));
    });
    s.on("connect", () => {
      const lines = [`PUT /v1/hosts/web1/bundles HTTP/1.1`, `host: 127.0.0.1`, `content-type: application/json`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      lines.push(chunked ? "transfer-encoding: chunked" : `content-length: ${bodyBytes}`);
      s.write(lines.join("\r\n") + "\r\n\r\n");
      const pump = () => {
        while (sent < bodyBytes && !s.destroyed) {
          const piece = chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]) : chunk;
          sent += chunk.length;
          if (!s.write(piece)) return void s.once("drain", pump);
        }
      };
      pump();
    });
  });
}

describe("abuse on a real socket", () => {
  it("a 100 MB body: 401 without credentials, 413 with them, before the server reads it; the server still serves", async () => {
    const before = JSON.stringify(Object.fromEntries(await store.heads()));
    const HUNDRED_MB = 100 * 1024 * 1024;
    const t0 = performance.now();
    const noAuth = await sendBig({}, HUNDRED_MB, false);
    expect(noAuth.status).toBe(401);
    const withToken = await sendBig({ authorization: `Bearer ${TOKEN}` }, HUNDRED_MB, false);
    expect(withToken.status).toBe(413);
    const chunked = await sendBig({ authorization: `Bearer ${TOKEN}` }, HUNDRED_MB, true);
    expect(chunked.status).toBe(413);
    // Cut off long before the 100 MB were taken in.
    for (const r of [noAuth, withToken, chunked]) expect(r.sent).toBeLessThan(HUNDRED_MB);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(await fetchAsHost()).toBe(200);
    expect(JSON.stringify(Object.fromEntries(await store.heads()))).toBe(before);
  });

  it("slowloris: 200 connections that send headers a byte at a time are closed, and hosts are served meanwhile", async () => {
    const sockets: Socket[] = [];
    const closed: Promise<void>[] = [];
    let trickle: NodeJS.Timeout | undefined;
    try {
      for (let i = 0; i < 200; i++) {
        const s = connect(port, "127.0.0.1");
        s.on("error", () => {});
        closed.push(new Promise((resolve) => s.on("close", () => resolve())));
        s.write("GET /v1/hosts/web1/bundles/latest HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ");
        sockets.push(s);
      }
      trickle = setInterval(() => {
        for (const s of sockets) if (!s.destroyed) s.write("a");
      }, 200);
      // While they hold their connections, signed fetches go through.
      for (let i = 0; i < 5; i++) expect(await fetchAsHost()).toBe(200);
      // headersTimeout (1.5 s here) ends every one of them.
      const t0 = performance.now();
      await Promise.race([Promise.all(closed), new Promise((_, reject) => setTimeout(() => reject(new Error("slow connections still open after 10 s")), 10_000))]);
      expect(performance.now() - t0).toBeLessThan(10_000);
    } finally {
      clearInterval(trickle);
      for (const s of sockets) s.destroy();
    }
    expect(await fetchAsHost()).toBe(200);
  });
});

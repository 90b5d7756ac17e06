// A request replayed after the server restarted is refused: the file store keeps the
// nonces it has seen in claims.log, so a real nixseal-server process (dist/server/bin.js)
// stopped with SIGTERM, or SIGKILLed, and started again on the same --storage refuses a
// signed request it answered before, while a fresh request signed before the restart
// is still accepted (the store did not fall back to refusing everything older than
// its start).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "../../core/signed-request.js";
import { fleetOf, signedBundle, sshKey, type TestKey } from "./support.js";

const SERVER = join(import.meta.dirname, "..", "..", "dist", "server", "bin.js");
const work = mkdtempSync(join(tmpdir(), "nixseal-server-restart-"));
const storage = join(work, "store");
const tokenFile = join(work, "token");
const TOKEN = randomBytes(24).toString("hex");
const LATEST = "/v1/hosts/web1/bundles/latest";
let web1: TestKey;
let server: { child: ChildProcess; origin: string } | undefined;

/** Starts nixseal-server on the test's storage; resolves once it says where it listens. */
function start(): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, [SERVER, "--storage", storage, "--token-file", tokenFile, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready after 15 s:\n${out}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /nixseal-server: listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, origin: m[1]! });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("close", (code) => reject(new Error(`server exited ${code}:\n${out}`)));
  });
}

async function stop(signal: "SIGTERM" | "SIGKILL"): Promise<number | null> {
  const s = server!;
  server = undefined;
  if (s.child.exitCode !== null || s.child.signalCode !== null) return s.child.exitCode;
  return new Promise((resolve) => {
    s.child.on("close", (code) => resolve(code));
    s.child.kill(signal);
  });
}

async function send(method: "GET" | "PUT", path: string, authorization: string, body?: unknown) {
  const res = await fetch(server!.origin + path, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, code: text ? (JSON.parse(text) as { code?: string }).code : undefined };
}

const signedGet = () => signRequest(web1.key, { kind: "host", host: "web1" }, "GET", LATEST);

beforeAll(async () => {
  writeFileSync(tokenFile, TOKEN + "\n", { mode: 0o600 });
  web1 = await sshKey(work, "web1");
  server = await start();
  expect((await send("PUT", "/v1/fleet", `Bearer ${TOKEN}`, fleetOf({ web1 }, {}))).status).toBe(200);
  const bundle = await signedBundle(work, "web1", web1, 1, [{ name: "db", value: randomBytes(8).toString("hex") }]);
  expect((await send("PUT", "/v1/hosts/web1/bundles", `Bearer ${TOKEN}`, bundle)).status).toBe(201);
});
afterAll(async () => {
  if (server) await stop("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

describe("nonces across a restart of nixseal-server (file store)", () => {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    it(`a request answered before a ${signal} and a restart is refused as a replay after it`, { timeout: 60_000 }, async () => {
      const used = signedGet();
      const fresh = signedGet();
      expect(await send("GET", LATEST, used)).toEqual({ status: 200, code: undefined });
      const code = await stop(signal);
      if (signal === "SIGTERM") expect(code).toBe(0);
      server = await start();
      expect(await send("GET", LATEST, used)).toEqual({ status: 401, code: "NIXSEAL_ERR_SERVER_REPLAYED" });
      // Signed before the restart but never sent: accepted, once.
      expect(await send("GET", LATEST, fresh)).toEqual({ status: 200, code: undefined });
      expect(await send("GET", LATEST, fresh)).toEqual({ status: 401, code: "NIXSEAL_ERR_SERVER_REPLAYED" });
    });
  }
});

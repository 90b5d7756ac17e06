// The fleet page in a real headless Chromium (Debian's chromium, scripts/setup.sh): a
// server on 127.0.0.1 with three real hosts of this test (one that fetched its bundle, one
// that never did, one with nothing pushed, and a refused attempt), a one-time link from
// the API, and Chromium's own --screenshot and --dump-dom. The screenshot must decode as
// a PNG of the window's size; the DOM must show the test's hosts in their states. A link
// works once; the page without a session is refused.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../server/app.js";
import { call, fileBackend, fleetOf, signedBundle, sshKey, type TestKey } from "./support.js";

const CHROMIUM = "/usr/bin/chromium";
const WIDTH = 1280;
const HEIGHT = 720;
const work = mkdtempSync(join(tmpdir(), "nixseal-fleet-page-"));
const TOKEN = randomBytes(24).toString("hex");
const VALUE = `plain-${randomBytes(12).toString("hex")}`;
const backend = fileBackend(work);
const keys: Record<string, TestKey> = {};
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  for (const name of ["web1", "web2", "db1", "alice", "stranger"]) keys[name] = await sshKey(work, name);
  app = await buildServer({ store: await backend.fresh(), operatorToken: TOKEN });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  expect((await call(app, "PUT", "/v1/fleet", { token: TOKEN }, fleetOf({ web1: keys.web1!, web2: keys.web2!, db1: keys.db1! }, { alice: keys.alice! }))).status).toBe(200);
  for (const h of ["web1", "web2"]) {
    const b = await signedBundle(work, h, keys[h]!, 1, [{ name: "db", value: VALUE }], keys.alice);
    expect((await call(app, "PUT", `/v1/hosts/${h}/bundles`, { key: keys.alice!, as: { kind: "admin" } }, b)).status).toBe(201);
  }
  expect((await call(app, "GET", "/v1/hosts/web1/bundles/latest", { key: keys.web1!, as: { kind: "host", host: "web1" } })).status).toBe(200);
  expect((await call(app, "GET", "/v1/hosts/web2/bundles/latest", { key: keys.stranger!, as: { kind: "host", host: "web2" } })).status).toBe(401);
});
afterAll(async () => {
  await app.close();
  await backend.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** A fresh one-time link to the page. */
async function link(): Promise<string> {
  const r = await call(app, "POST", "/v1/fleet/links", { token: TOKEN }, {});
  expect(r.status).toBe(200);
  return base + r.json.path;
}

/** Runs headless Chromium once with a fresh profile (removed afterwards); resolves with its stdout. */
function chromium(args: string[]): Promise<string> {
  const profile = mkdtempSync(join(work, "chromium-profile-"));
  const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`, "--hide-scrollbars", `--window-size=${WIDTH},${HEIGHT}`];
  return new Promise((resolve, reject) => {
    const c = spawn(CHROMIUM, [...flags, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => c.kill("SIGKILL"), 60_000);
    c.on("close", (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      if (code === 0) resolve(out);
      else reject(new Error(`chromium exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

/** Width, height and the decoded pixel rows of a PNG (8-bit RGB or RGBA, as Chromium writes). */
function decodePng(png: Buffer): { width: number; height: number; distinctColours: number } {
  expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString("latin1", pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
    } else if (type === "IDAT") idat.push(data);
    pos += 12 + len;
  }
  expect(channels).toBeGreaterThan(0);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  expect(raw.length).toBe(height * (stride + 1));
  // Undo the row filters (PNG spec 9: None, Sub, Up, Average, Paeth), then count colours.
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels]! : 0;
      const b = prev[x]!;
      const c = x >= channels ? prev[x - channels]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      if (predictor === undefined) throw new Error(`PNG row ${y}: filter ${filter}`);
      out[x] = (line[x]! + predictor) & 0xff;
    }
  }
  const colours = new Set<number>();
  for (let i = 0; i < pixels.length; i += channels * 5) colours.add(pixels.readUIntBE(i, 3));
  return { width, height, distinctColours: colours.size };
}

describe("the fleet page in headless Chromium", () => {
  it("has Chromium to run (scripts/setup.sh installs Debian's chromium)", () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run bash scripts/setup.sh`).toBe(true);
  });

  it("renders the test's real hosts in their states; the screenshot is a PNG of the window", { timeout: 120_000 }, async () => {
    const shot = join(work, "fleet.png");
    await chromium([`--screenshot=${shot}`, await link()]);
    const png = decodePng(readFileSync(shot));
    expect([png.width, png.height]).toEqual([WIDTH, HEIGHT]);
    expect(png.distinctColours).toBeGreaterThan(8);
    if (process.env.NIXSEAL_KEEP_SCREENSHOT) copyFileSync(shot, process.env.NIXSEAL_KEEP_SCREENSHOT);

    const dom = await chromium(["--dump-dom", await link()]);
    const row = (host: string) => new RegExp(`<tr class="([a-z-]+)">\\s*<td class="name">${host}</td>\\s*<td><span class="pill [a-z-]+">([^<]+)</span>`).exec(dom)?.slice(1);
    expect(row("web1")).toEqual(["current", "up to date"]);
    expect(row("web2")).toEqual(["never-fetched", "never fetched"]);
    expect(row("db1")).toEqual(["no-bundle", "no bundle pushed"]);
    expect(dom).toContain("3 hosts");
    expect(dom).toContain("<td>unknown</td><td>web2</td><td>unknown-key: GET /v1/hosts/:host/bundles/latest</td>");
    for (const needle of [VALUE, TOKEN]) expect(dom).not.toContain(needle);
  });

  it("a link works once, and the page without a session is refused", async () => {
    const once = await link();
    const first = await fetch(once, { redirect: "manual" });
    expect(first.status).toBe(303);
    expect(first.headers.get("set-cookie")).toMatch(/^nixseal_fleet=[A-Za-z0-9_-]{43}; Path=\/fleet; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
    expect((await fetch(`${base}/fleet`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(once, { redirect: "manual" })).status).toBe(401);
    expect((await fetch(`${base}/fleet`)).status).toBe(401);
    expect((await fetch(`${base}/fleet`, { headers: { cookie: "nixseal_fleet=" + "A".repeat(43) } })).status).toBe(401);
    const page = await fetch(`${base}/fleet`, { headers: { cookie } });
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
  });
});

// nixseal-server as an operator runs it: the built bin as a child process. Flags and
// token files are checked before anything listens; it listens on 127.0.0.1 by default
// (or a unix socket), logs JSON lines without bodies, and exits 0 on SIGTERM.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";

const SERVER = join(import.meta.dirname, "..", "..", "dist", "server", "bin.js");
const work = mkdtempSync(join(tmpdir(), "nixseal-server-bin-"));
const tokenFile = join(work, "token");
const TOKEN = randomBytes(24).toString("hex");
writeFileSync(tokenFile, TOKEN + "\n", { mode: 0o600 });
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  child = undefined;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [SERVER, ...args], { encoding: "utf8", timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the server; resolves with its log so far once a line matches (or rejects after 15 s). */
function start(args: string[], ready: RegExp): Promise<{ log: () => string; exited: Promise<number | null> }> {
  const c = spawn(process.execPath, [SERVER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child = c;
  let out = "";
  const exited = new Promise<number | null>((resolve) => c.on("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready after 15 s:\n${out}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve({ log: () => out, exited });
      }
    };
    c.stdout!.on("data", onData);
    c.stderr!.on("data", onData);
    void exited.then((code) => reject(new Error(`server exited ${code}:\n${out}`)));
  });
}

function get(opts: { port?: number; socketPath?: string; path: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", ...opts, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("nixseal-server command line", () => {
  it("--help and --version", () => {
    expect(run("--help")).toMatchObject({ code: 0, stdout: expect.stringContaining("usage: nixseal-server (--storage DIR | --postgres CONNINFO)") });
    expect(run("--version")).toMatchObject({ code: 0, stdout: "nixseal-server 0.1.0\n" });
  });

  it("refuses bad flags and unsafe token files before listening, exit 2", () => {
    const cases: Array<[string[], RegExp]> = [
      [["--token-file", tokenFile], /error: give one of --storage DIR \(the embedded store\) or --postgres CONNINFO/],
      [["--storage", work, "--postgres", "host=/run/postgresql"], /error: give one of --storage DIR/],
      [["--postgres", "host=/run/postgresql password=hunter2"], /error: --postgres must not hold a password/],
      [["--postgres", "postgresql://u:hunter2@localhost/db"], /error: --postgres must not hold a password/],
      [["--storage", join(work, "empty-store")], /error: nobody could push to this server: give --token-file FILE or --admin-keys FILE/],
      [["--storage", work, "--admin-keys", join(work, "none")], /error: cannot read --admin-keys/],
      [["--storage", work, "--token-file", tokenFile, "--bogus"], /error: unknown option '--bogus'/],
      [["--storage", work, "--token-file", tokenFile, "--port", "http"], /error: --port wants a whole number >= 0, not "http"/],
      [["--storage", work, "--token-file", tokenFile, "--socket", join(work, "s"), "--port", "1"], /error: --socket excludes --listen and --port/],
      [["--storage", work, "--token-file", join(work, "none")], /error: cannot read .*none: ENOENT/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
    }
    const loose = join(work, "loose");
    writeFileSync(loose, TOKEN, { mode: 0o644 });
    const l = run("--storage", work, "--token-file", loose);
    expect(l.code).toBe(2);
    expect(l.stderr).toMatch(/readable by others \(mode 0644\)/);
    expect(l.stderr).toContain(`nixseal-server: hint: chmod 600 ${loose}`);
    const short = join(work, "short");
    writeFileSync(short, "abc\n", { mode: 0o600 });
    expect(run("--storage", work, "--token-file", short).stderr).toMatch(/must hold one token of 16 or more printable characters[\s\S]*hint: make one/);
    const adminKeys = join(work, "admins");
    writeFileSync(adminKeys, "ecdsa-sha2-nistp256 AAAA alice\n");
    expect(run("--storage", work, "--admin-keys", adminKeys).stderr).toMatch(/admins:1: ecdsa-sha2-nistp256 keys are not supported|admins:1/);
    for (const out of [l.stderr, l.stdout]) expect(out).not.toContain(TOKEN);
  });

  it("listens on 127.0.0.1, answers health, exits 0 on SIGTERM", async () => {
    const s = await start(["--storage", join(work, "store-tcp"), "--token-file", tokenFile, "--port", "0"], /nixseal-server: listening on http:\/\/127\.0\.0\.1:(\d+)\n/);
    const port = Number(/nixseal-server: listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(s.log())![1]);
    const r = await get({ port, path: "/v1/health" });
    expect(r).toEqual({ status: 200, body: '{"ok":true}' });
    expect(statSync(join(work, "store-tcp")).mode & 0o777).toBe(0o700);
    expect(statSync(join(work, "store-tcp", "bundles.log")).mode & 0o777).toBe(0o600);
    child!.kill("SIGTERM");
    expect(await s.exited).toBe(0);
    // Fastify's own JSON log lines went to stdout; no token in any of it.
    expect(s.log()).toMatch(/"msg":"Server listening at http:\/\/127\.0\.0\.1:\d+"/);
    expect(s.log()).not.toContain(TOKEN);
  });

  it("listens on a unix socket (mode 0660) instead", async () => {
    const sock = join(work, "server.sock");
    const s = await start(["--storage", join(work, "store-unix"), "--token-file", tokenFile, "--socket", sock], /nixseal-server: listening on \//);
    expect(statSync(sock).mode & 0o777).toBe(0o660);
    const r = await get({ socketPath: sock, path: "/v1/hosts/web1/bundles/latest" });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).code).toBe("NIXSEAL_ERR_SERVER_UNAUTHORIZED");
    child!.kill("SIGTERM");
    expect(await s.exited).toBe(0);
  });
});

// Start cost: node-ssh/ssh2 (~70-140 ms to load) and listr2 load only when a command
// connects to a host, SQLite only for import nixops; never for --help or repo-only commands. Runs the built
// dist/cli/bin.js with a module resolve hook that names every package it loads; a
// command that does connect (status, to a closed loopback port) shows the hook sees them.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = resolve("dist/cli/bin.js");
const HEAVY = ["node-ssh", "ssh2", "listr2", "node-sqlite3-wasm"];
// Prints "LOADED <package>" on stderr the first time any module of a package resolves.
const HOOK = `
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (m) { const s = (globalThis.__seen ??= new Set()); if (!s.has(m[1])) { s.add(m[1]); process.stderr.write("LOADED " + m[1] + "\\n"); } }
  return r;
}`;
const REGISTER = `import { register } from "node:module"; register(${JSON.stringify("data:text/javascript," + encodeURIComponent(HOOK))});`;

const dir = mkdtempSync(join(tmpdir(), "nixseal-lazy-"));
const repo = join(dir, "repo");
const env = { PATH: process.env.PATH, HOME: join(dir, "home"), NIXSEAL_NO_KEYCHAIN: "1" };

function run(args: string[]): { code: number | null; stdout: string; stderr: string; loaded: string[] } {
  const r = spawnSync(process.execPath, ["--import", "data:text/javascript," + encodeURIComponent(REGISTER), BIN, ...args], { cwd: repo, env, encoding: "utf8", timeout: 60_000 });
  const loaded = [...r.stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, loaded };
}

beforeAll(() => {
  mkdirSync(repo, { recursive: true });
  mkdirSync(env.HOME, { recursive: true });
  expect(run(["init"]).code).toBe(0);
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hk")]);
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "operator")]);
  // Port 1 on loopback: nothing listens, so a connect fails fast.
  const add = run(["host", "add", "web1", "--target", "root@127.0.0.1:1", "--key", readFileSync(join(dir, "hk.pub"), "utf8").trim()]);
  expect(add.code, add.stderr).toBe(0);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the CLI loads ssh and listr2 only for commands that connect", () => {
  for (const args of [["--help"], ["--version"], ["secrets", "list"], ["host", "list"], ["deploy", "--help"], ["status", "--help"], ["verify", "--help"]]) {
    it(`nixseal ${args.join(" ")}: none of ${HEAVY.join(", ")}`, () => {
      const r = run(args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.loaded).toContain("commander"); // the hook works in this process
      expect(r.loaded.filter((p) => HEAVY.includes(p))).toEqual([]);
    });
  }

  it("nixseal status (connects): loads node-ssh and ssh2, and fails cleanly on the closed port", () => {
    const r = run(["status", "web1", "--ssh-key", join(dir, "operator")]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/cannot connect to root@127\.0\.0\.1:1: connect ECONNREFUSED/);
    expect(r.loaded).toEqual(expect.arrayContaining(["node-ssh", "ssh2"]));
  });
});

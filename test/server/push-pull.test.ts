// The whole path through a real server on 127.0.0.1: a repo made with the real CLI,
// `nixseal push` (main() in-process) to buildServer() listening on a random loopback
// port, then `nixseal-agent pull` into an agent state dir with its plaintext on a real
// tmpfs (root, as the agent tests). The operator's admin key is an ssh-ed25519 key: it
// signs the requests and the bundles, and the agent pins it; the agent signs its own
// requests with the host key nixseal.json pins. The secret materialises; the server's
// storage, its log and every reply are grepped for the values (never there). A server
// that tampers with, forges or replays a bundle (an old signed one that re-adds a
// removed secret or drops an added one), and one that is not there, change nothing on
// the host; `pull --follow` gets a push within seconds.
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleSigner } from "../../core/bundle-signing.js";
import { parseSshPrivateKey } from "../../core/index.js";
import { signRequest } from "../../core/signed-request.js";
import { main as agentMain } from "../../host-agent/commands/main.js";
import { MAX_REPLY_BYTES, runPull } from "../../host-agent/pull/pull.js";
import { buildServer } from "../../server/app.js";
import { runNixseal, testEnv, type RunResult } from "../cli/harness.js";
import { grepTree, logSink, makeEnv, snapshotState, storedBytes, type AgentEnv } from "./support.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-push-pull-"));
const repo = join(work, "repo");
const storage = join(work, "storage");
const tokenFile = join(work, "operator.token");
const signKey = join(work, "operator_ed25519");
const TOKEN = randomBytes(24).toString("hex");
const fresh = () => `plain-${randomBytes(12).toString("hex")}`;
const values: string[] = [];
const outputs: string[] = [];
const log = logSink();
let env: AgentEnv;
let server: FastifyInstance;
let url: string;

async function nixseal(argv: string[], stdin?: string): Promise<RunResult> {
  const r = await runNixseal(argv, { cwd: repo, env: testEnv(repo), stdin });
  outputs.push(r.stdout, r.stderr);
  return r;
}

async function agent(argv: string[]): Promise<RunResult> {
  const [out, err] = [logSink(), logSink()];
  const code = await agentMain(argv, { stdout: out.stream, stderr: err.stream });
  const r = { code, stdout: out.text(), stderr: err.text() };
  outputs.push(r.stdout, r.stderr);
  return r;
}

const dirs = () => ["--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir, "--identity", env.hostKey, "--config", join(work, "agent.json")];
const pull = (serverUrl = url, ...flags: string[]) => agent(["pull", "--server", serverUrl, "--host", "testhost", ...(flags.length ? flags : ["--trust-key", `${signKey}.pub`]), ...dirs()]);
const push = (...args: string[]) => nixseal(["push", "--server", url, "--sign-key", signKey, ...args]);

/** A loopback server that answers every request with this JSON (a compromised nixseal server). */
async function withEvilServer<T>(body: unknown, fn: (url: string) => Promise<T>, status = 200): Promise<T> {
  const evil: Server = createServer((_req, res) => res.writeHead(status, { "content-type": "application/json" }).end(typeof body === "string" ? body : JSON.stringify(body)));
  await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
  try {
    return await fn(`http://127.0.0.1:${(evil.address() as AddressInfo).port}`);
  } finally {
    await new Promise((resolve) => evil.close(resolve));
  }
}

interface Reply {
  id: string;
  sequence: number;
  manifest: { host: string; sequence?: number; secrets: Array<{ name: string; mode: string; version: number }> };
  files: Record<string, string>;
  signature?: string;
}
/** A GET signed by the host itself (as its agent does). */
const hostGet = async (path: string) => {
  const key = await parseSshPrivateKey(readFileSync(env.hostKey, "utf8"));
  return fetch(`${url}${path}`, { headers: { authorization: signRequest(key, { kind: "host", host: "testhost" }, "GET", path) } });
};
const fetchJson = async (path: string) => (await (await hostGet(path)).json()) as Reply;
const live = (name: string) => readFileSync(join(env.config.runDir, "current", name), "utf8");
const generations = () => readdirSync(join(env.config.stateDir, "generations")).sort();

beforeAll(async () => {
  env = makeEnv();
  // restartUnits off: the test host's systemd is not ours to restart units in.
  writeFileSync(join(work, "agent.json"), JSON.stringify({ restartUnits: false }));
  mkdirSync(repo);
  writeFileSync(tokenFile, TOKEN + "\n", { mode: 0o600 });
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "operator", "-f", signKey]);
  // The operator's key is also the server's bootstrap admin: the first push needs no token.
  const operatorPub = readFileSync(`${signKey}.pub`, "utf8").trim();
  server = await buildServer({ storageDir: storage, operatorToken: TOKEN, adminKeys: [{ name: "operator", key: operatorPub }], logger: { level: "info", stream: log.stream } as never });
  await server.listen({ host: "127.0.0.1", port: 0 });
  url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  expect((await nixseal(["init", "--identity", signKey, "--admin-name", "operator"])).code).toBe(0);
  expect((await nixseal(["host", "add", "testhost", "--target", "root@127.0.0.1", "--key", env.hostPub])).code).toBe(0);
  for (const name of ["db", "api"]) {
    const v = fresh();
    values.push(v);
    expect((await nixseal(["secrets", "add", name, "--host", "testhost"], v)).code).toBe(0);
  }
});

afterAll(async () => {
  await server?.close();
  env?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("nixseal push, nixseal-agent pull", () => {
  it("push checks --server and the token file before building anything", async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [["--server", "ftp://127.0.0.1/", "--token-file", tokenFile], 2, /--server must be an http:\/\/ or https:\/\/ URL/],
      [["--server", `http://user:${TOKEN}@127.0.0.1/`, "--token-file", tokenFile], 2, /without credentials/],
      [["--server", "not a url", "--token-file", tokenFile], 2, /--server "not a url" is not a URL/],
      [["--server", url], 2, /talking to the server needs an admin key or the server's operator token[\s\S]*hint: pass --sign-key KEY/],
      [["--server", url, "--token-file", join(work, "missing")], 1, /cannot read the token file/],
      [["--server", url, "--token-file", tokenFile, "nohost"], 1, /no host named "nohost"/],
    ];
    for (const [args, code, message] of cases) {
      const r = await nixseal(["push", ...args]);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(code);
      expect(r.stderr).not.toContain(TOKEN);
    }
    expect(storedBytes(storage)).toBe(0);
  });

  it("push refuses a wrong token and stores nothing", async () => {
    const bad = join(work, "bad.token");
    writeFileSync(bad, "x".repeat(32), { mode: 0o600 });
    const r = await nixseal(["push", "testhost", "--server", url, "--token-file", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^nixseal: error: http:\/\/127\.0\.0\.1:\d+: the request's signature or token is not accepted \[NIXSEAL_ERR_SERVER_UNAUTHORIZED\]$/m);
    expect(r.stderr).toMatch(/^nixseal: hint: a host signs with its SSH host key/m);
    const stranger = join(work, "stranger_ed25519");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "stranger", "-f", stranger]);
    const s = await nixseal(["push", "testhost", "--server", url, "--sign-key", stranger]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/signature or token is not accepted/);
    expect(storedBytes(storage)).toBe(0);
    const loose = join(work, "loose.token");
    writeFileSync(loose, TOKEN, { mode: 0o644 });
    const l = await nixseal(["push", "testhost", "--server", url, "--token-file", loose]);
    expect(l.code).toBe(1);
    expect(l.stderr).toMatch(/readable by others/);
  });

  it("pushes the host's signed bundle; the agent pulls it and the secrets materialise", async () => {
    const p = await push("testhost");
    expect(p.stderr).toMatch(/^nixseal: pushed the fleet state: 1 hosts, 1 admin keys$/m);
    expect(p.stderr).toMatch(/^nixseal: pushed testhost: bundle [0-9a-f]{16}, sequence 1 \(2 secrets\)$/m);
    expect(p.code).toBe(0);
    const r = await pull();
    expect(r.stderr).toMatch(/pulled bundle [0-9a-f]{16} \(sequence 1\) from http:\/\/127\.0\.0\.1:\d+: generation 1, 2 of 2 secrets/);
    expect(r.code).toBe(0);
    expect(live("db")).toBe(values[0]);
    expect(live("api")).toBe(values[1]);
  });

  it("pulling the same bundle again changes nothing", async () => {
    const before = generations();
    const r = await pull();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/is already generation 1 \(current\); nothing to do/);
    expect(generations()).toEqual(before);
  });

  it("a rotated secret, pushed again, arrives as the next generation", async () => {
    const v = fresh();
    values.push(v);
    expect((await nixseal(["secrets", "rotate", "db"], v)).code).toBe(0);
    const p = await push("--json");
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ command: "push", ok: true, hosts: [{ host: "testhost", ok: true, created: true, sequence: 2 }] });
    const r = await pull();
    expect(r.code).toBe(0);
    expect(live("db")).toBe(v);
    expect(generations()).toEqual(["1", "2"]);
  });

  it("a server that alters, forges, re-signs or replays a bundle changes nothing", async () => {
    const latest = await fetchJson("/v1/hosts/testhost/bundles/latest");
    const gen1 = JSON.parse(readFileSync(join(env.config.stateDir, "generations", "1", "manifest.json"), "utf8")) as { id: string };
    const older = await fetchJson(`/v1/hosts/testhost/bundles/${gen1.id}`);
    const attacker = await parseSshPrivateKey(readFileSync(join(work, "stranger_ed25519"), "utf8"));
    const cases: Array<[string, (b: Reply) => Reply]> = [
      [
        "does not match its sha256",
        (b) => {
          const [name, text] = Object.entries(b.files)[0]!;
          const bytes = Buffer.from(text, "base64");
          bytes[bytes.length - 1] ^= 1;
          b.files[name] = bytes.toString("base64");
          return b;
        },
      ],
      ["not named in manifest.json", (b) => ((b.files["extra.age"] = Object.values(b.files)[0]!), b)],
      ["its signature does not match its manifest", (b) => ((b.manifest.secrets[0]!.mode = "0444"), b)],
      ["its signature does not match its manifest", (b) => ((b.manifest.host = "other"), b)],
      ["it is not signed", (b) => (delete b.signature, b)],
      [
        "it is signed by a key not given with --trust-key",
        (b) => {
          b.manifest.secrets[0]!.mode = "0444";
          b.signature = bundleSigner(attacker)(b.manifest as never);
          return b;
        },
      ],
      ["has sequence 1, not above 2, the highest this host has run: an older bundle replayed", () => structuredClone(older)],
    ];
    for (const [why, spoil] of cases) {
      await withEvilServer(spoil(structuredClone(latest)), async (evilUrl) => {
        const before = snapshotState(env.config.stateDir);
        const liveBefore = live("db");
        const r = await pull(evilUrl);
        expect(r.stderr).toContain(why);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/hint: nothing was changed/);
        expect(snapshotState(env.config.stateDir)).toEqual(before);
        expect(live("db")).toBe(liveBefore);
      });
    }
  });

  it("an old signed bundle that re-adds a removed secret, or drops an added one, is refused: nothing changed", async () => {
    // Remove api from the host: sequence 3 has db only; the replayed sequence 2 would bring api back.
    const seq2 = await fetchJson("/v1/hosts/testhost/bundles/latest");
    expect(seq2.sequence).toBe(2);
    expect((await nixseal(["secrets", "rm", "api"])).code).toBe(0);
    expect((await push()).code).toBe(0);
    expect((await pull()).code).toBe(0);
    expect(() => live("api")).toThrow();
    // Add extra: sequence 4; the replayed sequence 3 would drop it.
    const extra = fresh();
    values.push(extra);
    expect((await nixseal(["secrets", "add", "extra", "--host", "testhost"], extra)).code).toBe(0);
    const seq3 = await fetchJson("/v1/hosts/testhost/bundles/latest");
    expect((await push()).code).toBe(0);
    expect((await pull()).code).toBe(0);
    expect(live("extra")).toBe(extra);
    for (const [old, gone] of [[seq2, "re-adds api"], [seq3, "drops extra"]] as const) {
      // Same versions for the secrets both have: only the sequence tells the replay apart.
      expect(old.manifest.secrets.find((x) => x.name === "db")!.version).toBe(2);
      const before = snapshotState(env.config.stateDir);
      const r = await withEvilServer(old, (evilUrl) => pull(evilUrl));
      expect(r.code, gone).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`error: the bundle from http://127\\.0\\.0\\.1:\\d+ has sequence ${old.sequence}, not above 4, the highest this host has run: an older bundle replayed`));
      expect(r.stderr).toMatch(/hint: nothing was changed on this host/);
      expect(snapshotState(env.config.stateDir)).toEqual(before);
      expect(live("extra")).toBe(extra);
      expect(() => live("api")).toThrow();
    }
  });

  it("an intended rollback goes through only when the operator signs it with --rollback", async () => {
    const saved = join(work, "repo-before-rotate");
    cpSync(repo, saved, { recursive: true });
    const v = fresh();
    values.push(v);
    expect((await nixseal(["secrets", "rotate", "db"], v)).code).toBe(0);
    expect((await push()).code).toBe(0);
    expect((await pull()).code).toBe(0);
    expect(live("db")).toBe(v);
    // The operator goes back to the repo as it was (git checkout), db version 2 again.
    rmSync(join(repo, "secrets"), { recursive: true });
    cpSync(join(saved, "secrets"), join(repo, "secrets"), { recursive: true });
    cpSync(join(saved, "nixseal.json"), join(repo, "nixseal.json"));
    rmSync(saved, { recursive: true });
    expect((await push()).code).toBe(0);
    const before = snapshotState(env.config.stateDir);
    const refused = await pull();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/has older versions than generation \d+: db \(3 -> 2\)/);
    expect(refused.stderr).toMatch(/nixseal push --rollback/);
    expect(snapshotState(env.config.stateDir)).toEqual(before);
    const p = await push("--rollback");
    expect(p.stderr).toMatch(/sequence \d+ \(2 secrets\), rollback/);
    expect((await pull()).code).toBe(0);
    expect(live("db")).toBe(values[2]);
  });

  it("pull --follow installs a push within seconds, and stops on request", async () => {
    const stop = new AbortController();
    const [out, err] = [logSink(), logSink()];
    const options = { server: url, host: "testhost", trustKey: [`${signKey}.pub`], follow: true, wait: "20", stateDir: env.config.stateDir, runDir: env.config.runDir, keysDir: env.config.keysDir, identity: [env.hostKey], config: join(work, "agent.json") };
    const following = runPull({ operands: [], values: options }, { stdout: out.stream, stderr: err.stream }, stop.signal);
    try {
      await expect.poll(() => err.text(), { timeout: 10_000 }).toMatch(/following http:\/\/127\.0\.0\.1:\d+ for host testhost \(running sequence \d+\)/);
      const v = fresh();
      values.push(v);
      expect((await nixseal(["secrets", "rotate", "extra"], v)).code).toBe(0);
      const t0 = performance.now();
      expect((await push()).code).toBe(0);
      await expect.poll(() => live("extra"), { timeout: 10_000, interval: 20 }).toBe(v);
      expect(performance.now() - t0).toBeLessThan(5000);
    } finally {
      stop.abort();
    }
    expect(await following).toBe(0);
    expect(err.text()).toMatch(/stopped following/);
    outputs.push(out.text(), err.text());
  });

  it("an unsigned push is refused by a pinned agent and accepted with --trust-server", async () => {
    const v = fresh();
    values.push(v);
    const was = live("extra");
    expect((await nixseal(["secrets", "rotate", "extra"], v)).code).toBe(0);
    expect((await nixseal(["push", "testhost", "--server", url, "--token-file", tokenFile])).code).toBe(0);
    const refused = await pull();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("it is not signed (push with nixseal push --sign-key)");
    expect(live("extra")).toBe(was);
    const usage = await agent(["pull", "--server", url, "--host", "testhost", ...dirs()]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("pull needs either --trust-key FILE (the operator's signing key) or --trust-server");
    const r = await pull(url, "--trust-server");
    expect(r.code).toBe(0);
    expect(live("extra")).toBe(v);
  });

  it("a server that is not there: a clear error, nothing changed", async () => {
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, "127.0.0.1", resolve));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((resolve) => gone.close(resolve));
    const before = snapshotState(env.config.stateDir);
    const r = await pull(`http://127.0.0.1:${port}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    expect(snapshotState(env.config.stateDir)).toEqual(before);
    const p = await nixseal(["push", "--server", `http://127.0.0.1:${port}`, "--token-file", tokenFile]);
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/cannot reach .*ECONNREFUSED/);
  });

  it("a server's reply is bounded in size, and its error text reaches the terminal without control characters", async () => {
    const before = snapshotState(env.config.stateDir);
    const huge = await withEvilServer(" ".repeat(MAX_REPLY_BYTES + 1), (evilUrl) => pull(evilUrl));
    expect(huge.code).toBe(1);
    expect(huge.stderr).toMatch(/sent more than 67108864 bytes/);
    const escape = await withEvilServer({ code: "NIXSEAL_ERR_SERVER_NO_BUNDLE", message: "gone\x1b[2J\x1b]0;owned\x07", hints: ["\x1b[31mred"] }, (evilUrl) => pull(evilUrl), 404);
    expect(escape.code).toBe(1);
    expect(escape.stderr).toMatch(/error: http:\/\/127\.0\.0\.1:\d+: gone \[2J \]0;owned /);
    expect(escape.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    const notOurs = await withEvilServer("<html>proxy error</html>", (evilUrl) => pull(evilUrl), 502);
    expect(notOurs.stderr).toMatch(/answered HTTP 502 without a nixseal reply/);
    expect(snapshotState(env.config.stateDir)).toEqual(before);
  });

  it("a host the server does not know: the same refusal as a bad signature", async () => {
    const r = await agent(["pull", "--server", url, "--host", "nobody", "--trust-key", `${signKey}.pub`, ...dirs()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: http:\/\/127\.0\.0\.1:\d+: the request's signature or token is not accepted/);
  });

  it("nixseal audit and nixseal fleet show pushes, fetches and refusals; fleet --link opens the page once", async () => {
    const a = await nixseal(["audit", "--server", url, "--sign-key", signKey, "--host", "testhost", "--json", "-n", "500"]);
    expect(a.code, a.stderr).toBe(0);
    const events = (JSON.parse(a.stdout) as { events: Array<{ action: string; actor: string; host?: string; detail?: string }> }).events;
    expect(events.some((e) => e.action === "push-bundle" && e.actor === "admin:operator" && /signed by operator/.test(e.detail ?? ""))).toBe(true);
    expect(events.some((e) => e.action === "push-bundle" && e.actor === "token" && /unsigned/.test(e.detail ?? ""))).toBe(true);
    expect(events.some((e) => e.action === "fetch" && e.actor === "host:testhost")).toBe(true);
    expect(events.every((e) => e.host === "testhost")).toBe(true);
    const text = await nixseal(["audit", "--server", url, "--token-file", tokenFile, "-n", "3"]);
    expect(text.stdout.trim().split("\n")).toHaveLength(3);
    expect(text.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z  \S+  \S+/m);
    const f = await nixseal(["fleet", "--server", url, "--sign-key", signKey]);
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/^HOST\s+STATE\s+SHOULD RUN\s+LAST FETCHED\s+REFUSED$/m);
    expect(f.stdout).toMatch(/^testhost\s+current\s+#\d+ [0-9a-f]{12}\s+#\d+ [0-9a-f]{12} at \S+\s+\d+$/m);
    const l = await nixseal(["fleet", "--server", url, "--sign-key", signKey, "--link"]);
    const link = l.stdout.trim();
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fleet\/login\?code=[A-Za-z0-9_-]{32}$/);
    expect((await fetch(link, { redirect: "manual" })).status).toBe(303);
    expect((await fetch(link, { redirect: "manual" })).status).toBe(401);
    const bad = await nixseal(["audit", "--server", url, "--sign-key", signKey, "--host", "Not_A_Host"]);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/--host "Not_A_Host" is not a host name/)]);
  });

  it("no value in the server's storage or log, in any reply, or left in the agent's state dir", async () => {
    const replies = [await (await hostGet("/v1/hosts/testhost/bundles/latest")).text()];
    for (const g of generations()) {
      const id = (JSON.parse(readFileSync(join(env.config.stateDir, "generations", g, "manifest.json"), "utf8")) as { id: string }).id;
      replies.push(await (await hostGet(`/v1/hosts/testhost/bundles/${id}`)).text());
    }
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    replies.push(await (await fetch(`${url}/v1/health`)).text(), await (await fetch(`${url}/v1/audit?limit=1000`, auth)).text(), await (await fetch(`${url}/v1/fleet`, auth)).text());
    // The probe works: a value written in the storage dir is found.
    writeFileSync(join(storage, "probe"), `x${values[0]}x`);
    expect(grepTree(storage, values[0]!)).toEqual([join(storage, "probe")]);
    rmSync(join(storage, "probe"));
    expect(values.length).toBeGreaterThanOrEqual(7);
    for (const v of values) {
      expect(grepTree(storage, v)).toEqual([]);
      expect(grepTree(env.config.stateDir, v)).toEqual([]);
      for (const r of replies) expect(r).not.toContain(v);
      for (const o of outputs) expect(o).not.toContain(v);
      expect(log.text()).not.toContain(v);
    }
    expect(log.text()).not.toContain(TOKEN);
    for (const o of outputs) expect(o).not.toContain(TOKEN);
    expect(log.text()).toContain('"msg":"bundle stored"');
  });
});

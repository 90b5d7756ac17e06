import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildAgent } from "../../host-agent/api/app.js";
import type { AgentConfig } from "../../host-agent/config/defaults.js";
import { makeEnv, writeBundle, type AgentEnv } from "./support.js";

const VALUES = ["app-value-one", "app-value-two", "app-value-three"];
let env: AgentEnv;
let app: FastifyInstance;
const replies: string[] = [];

afterEach(async () => {
  await app?.close();
  env?.cleanup();
  // no reply of any test ever carried a value
  for (const body of replies) for (const v of VALUES) expect(body).not.toContain(v);
  replies.length = 0;
});

async function start(config?: Partial<AgentConfig>): Promise<void> {
  env = makeEnv();
  app = await buildAgent({ config: { ...env.config, ...config } });
}

async function call(method: "GET" | "POST", url: string, payload?: unknown) {
  const r = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  replies.push(r.body);
  return { status: r.statusCode, body: r.headers["content-type"]?.toString().startsWith("application/json") ? r.json() : r.body, type: r.headers["content-type"] };
}

async function bundle(name: string, values = VALUES): Promise<string> {
  return writeBundle(join(env.root, name), env.hostPub, values.map((value, i) => ({ name: `s${i}`, value, mode: "0440", version: i + 1 })));
}

describe("agent API (inject)", () => {
  it("GET /health answers ok with the current generation", async () => {
    await start();
    expect(await call("GET", "/health")).toMatchObject({ status: 200, body: { ok: true, status: "ok", current: null } });
  });

  it("POST /stage checks a bundle and stores it as pending without changing anything live", async () => {
    await start();
    const dir = await bundle("b1");
    const r = await call("POST", "/stage", { dir });
    expect(r).toMatchObject({ status: 200, body: { generation: 1, existing: false } });
    expect(r.body.secrets.map((s: { name: string }) => s.name)).toEqual(["s0", "s1", "s2"]);
    expect((await call("GET", "/status")).body).toMatchObject({ current: null, runGeneration: null, generations: [{ generation: 1, state: "pending" }] });
    // the same bundle again is the same generation; the same values encrypted afresh are new ciphertext
    expect((await call("POST", "/stage", { dir })).body).toMatchObject({ generation: 1, existing: true });
    expect((await call("POST", "/stage", { dir: await bundle("b1-again") })).body).toMatchObject({ generation: 2, existing: false });
  });

  it("POST /activate makes a staged generation live; GET /status lists names, owners, modes, hashes, never values", async () => {
    await start();
    await call("POST", "/stage", { dir: await bundle("b1") });
    const a = await call("POST", "/activate", { generation: 1 });
    expect(a).toMatchObject({ status: 200, body: { ok: true, generation: 1, runGeneration: "1", changed: ["s0", "s1", "s2"] } });
    const s = await call("GET", "/status");
    expect(s.body).toMatchObject({ current: 1, previous: null, runGeneration: "1" });
    expect(s.body.secrets[1]).toMatchObject({ name: "s1", owner: "root", group: "root", mode: "0440", version: 2, ok: true, present: true });
    expect(s.body.secrets[1].sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("POST /rollback trades current and previous; with no previous it is a 409 with a hint", async () => {
    await start();
    expect(await call("POST", "/rollback", {})).toMatchObject({ status: 409, body: { code: "NIXSEAL_ERR_AGENT_NO_PREVIOUS" } });
    await call("POST", "/stage", { dir: await bundle("b1") });
    await call("POST", "/activate", { generation: 1 });
    await call("POST", "/stage", { dir: await bundle("b2", ["app-value-one", "app-value-two"]) });
    await call("POST", "/activate", { generation: 2 });
    const r = await call("POST", "/rollback", {});
    expect(r).toMatchObject({ status: 200, body: { ok: true, generation: 1, changed: ["s2"] } });
    expect((await call("GET", "/status")).body).toMatchObject({ current: 1, previous: 2 });
  });

  it("answers bad requests with 400 and the catalogue code", async () => {
    await start();
    expect(await call("POST", "/stage", { dir: "relative/dir" })).toMatchObject({ status: 400, body: { code: "NIXSEAL_ERR_AGENT_BAD_REQUEST" } });
    expect(await call("POST", "/stage", {})).toMatchObject({ status: 400, body: { code: "NIXSEAL_ERR_AGENT_BAD_REQUEST" } });
    expect(await call("POST", "/activate", { generation: "one" })).toMatchObject({ status: 400, body: { code: "NIXSEAL_ERR_AGENT_BAD_REQUEST" } });
    expect(await call("POST", "/activate", { generation: 7 })).toMatchObject({ status: 404, body: { code: "NIXSEAL_ERR_AGENT_GENERATION_NOT_FOUND" } });
    expect(await call("GET", "/nope")).toMatchObject({ status: 404, body: { code: "NIXSEAL_ERR_AGENT_ROUTE_NOT_FOUND" } });
    const missing = await call("POST", "/stage", { dir: join(env.root, "no-such-dir") });
    expect(missing).toMatchObject({ status: 400, body: { code: "NIXSEAL_ERR_AGENT_BUNDLE_INVALID" } });
    expect(missing.body.message).toContain("manifest.json is missing");
    expect(missing.body.hints.length).toBeGreaterThan(0);
  });

  it("refuses a bundle whose file does not match its sha256, and one it cannot decrypt", async () => {
    await start();
    const dir = await bundle("b1");
    writeFileSync(join(dir, "s1.age"), "tampered");
    expect(await call("POST", "/stage", { dir })).toMatchObject({ status: 400, body: { code: "NIXSEAL_ERR_AGENT_CHECKSUM" } });
    const other = makeEnv();
    try {
      const foreign = await writeBundle(join(env.root, "foreign"), other.hostPub, [{ name: "x", value: VALUES[0]! }]);
      const r = await call("POST", "/stage", { dir: foreign });
      expect(r).toMatchObject({ status: 400, body: { code: "NIXSEAL_ERR_AGENT_DECRYPT" } });
      expect(r.body.message).toContain("secret 'x' cannot be decrypted");
    } finally {
      other.cleanup();
    }
    expect((await call("GET", "/status")).body.generations).toEqual([]);
  });

  it("answers an unexpected failure with a 500 body that reveals nothing", async () => {
    await start();
    const notADir = join(env.root, "state-is-a-file");
    writeFileSync(notADir, "x");
    await app.close();
    app = await buildAgent({ config: { ...env.config, stateDir: notADir } });
    const r = await call("POST", "/stage", { dir: await bundle("b1") });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ code: "NIXSEAL_ERR_AGENT_INTERNAL", message: "internal error", hints: [expect.stringContaining("journalctl")] });
    expect(JSON.stringify(r.body)).not.toContain(env.root);
  });

  it("GET /metrics is Prometheus text with per-secret state and no values", async () => {
    await start();
    await call("POST", "/stage", { dir: await bundle("b1") });
    await call("POST", "/activate", { generation: 1 });
    const m = await call("GET", "/metrics");
    expect(m.status).toBe(200);
    expect(m.type).toContain("text/plain");
    expect(m.body).toContain("nixseal_agent_current_generation 1");
    expect(m.body).toContain('nixseal_agent_secret_ok{name="s0"} 1');
    expect(m.body).toContain("nixseal_agent_secrets_failed 0");
    expect(m.body).toMatch(/nixseal_agent_runs_total\{result="ok"\} 1/);
  });
});

// `nixseal bundle HOST --out DIR` (operator side of the scriptable path), run in-process,
// and its bundle checked and imported by the agent with a real host key.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleContentId } from "../../cli/bundle/manifest.js";
import { readBundleUpload } from "../../host-agent/generations/bundle-dir.js";
import { managedPaths } from "../../host-agent/config/defaults.js";
import { importBundle } from "../../host-agent/generations/operations.js";
import { runNixseal, testEnv } from "../cli/harness.js";
import { makeEnv, makeHostKey, type AgentEnv } from "./support.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-bundle-test-"));
const repo = join(work, "repo");
let env: Record<string, string | undefined>;
let agentEnv: AgentEnv;
const run = (...argv: string[]) => runNixseal(argv, { cwd: repo, env });

beforeAll(async () => {
  mkdirSync(repo);
  agentEnv = makeEnv();
  const admin = join(work, "admin.key");
  const { spawnSync } = await import("node:child_process");
  spawnSync("age-keygen", ["-o", admin]);
  env = testEnv(work, { NIXSEAL_IDENTITY: admin });
  expect((await run("init", "--identity", admin)).code).toBe(0);
  expect((await run("host", "add", "web1", "--target", "root@127.0.0.1", "--key", agentEnv.hostPub)).code).toBe(0);
  const other = makeHostKey(mkdtempSync(join(work, "other-")));
  expect((await run("host", "add", "db1", "--target", "root@127.0.0.1", "--key", other.pub)).code).toBe(0);
  expect((await runNixseal(["secrets", "add", "web-token", "--host", "web1"], { cwd: repo, env, stdin: "bundle-value-web" })).code).toBe(0);
  expect((await runNixseal(["secrets", "add", "db-pass", "--host", "db1"], { cwd: repo, env, stdin: "bundle-value-db" })).code).toBe(0);
});
afterAll(() => {
  agentEnv?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("nixseal bundle", () => {
  it("writes only that host's secrets, ciphertext only, and the agent imports it", async () => {
    const out = join(work, "out-web1");
    const r = await run("bundle", "web1", "--out", out);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("wrote the bundle of web1 (1 secrets");
    expect(readdirSync(out).sort()).toEqual(["manifest.json", "web-token.age"]);
    const m = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(m).toMatchObject({ format: "nixseal-bundle/v1", host: "web1", secrets: [{ name: "web-token", owner: "root", mode: "0400", version: 1 }] });
    expect(m.id).toBe(bundleContentId("web1", m.secrets));
    expect((await readBundleUpload(out, managedPaths(agentEnv.config))).entries.every((e) => e.blob && !e.error)).toBe(true);
    for (const f of readdirSync(out)) expect(readFileSync(join(out, f), "utf8")).not.toContain("bundle-value");
    await importBundle(agentEnv.config, out);
    expect(readFileSync(join(agentEnv.config.keysDir, "web-token"), "utf8")).toBe("bundle-value-web");
    // the same repo state gives the same content id (deploy tells "unchanged" by it)
    const again = join(work, "out-web1-again");
    await run("bundle", "web1", "--out", again);
    expect(JSON.parse(readFileSync(join(again, "manifest.json"), "utf8")).id).toBe(m.id);
  });

  it("refuses an unknown host and a non-empty --out, writing nothing", async () => {
    const u = await run("bundle", "nohost", "--out", join(work, "x"));
    expect(u.code).toBe(1);
    expect(u.stderr).toContain('no host named "nohost"');
    expect(readdirSync(work)).not.toContain("x");
    const full = join(work, "full");
    mkdirSync(full);
    writeFileSync(join(full, "keep.txt"), "mine");
    const f = await run("bundle", "web1", "--out", full);
    expect(f.code).toBe(1);
    expect(f.stderr).toContain("is not empty");
    expect(readdirSync(full)).toEqual(["keep.txt"]);
  });
});

// The boot path as a unit runs it: dist/host-agent/bin.cjs restore runs the build's
// CommonJS bundle (scripts/bundle-agent.mjs), loading three of the project's files instead
// of ~35 modules and no ES module at all, and restores exactly what the tsc modules
// (NIXSEAL_AGENT_NO_BUNDLE=1) restore; every other command, run from the bundle, works too.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { importBundle } from "../../host-agent/generations/operations.js";
import { makeEnv, writeBundle, type AgentEnv } from "./support.js";

const DIST = join(import.meta.dirname, "..", "..", "dist", "host-agent");
// Prints "LOADED <url>" on stderr for every file: module of the project that resolves,
// and "PACKAGE <name>" the first time a module of a package does.
const HOOK = `
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  const p = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (p) { const s = (globalThis.__seen ??= new Set()); if (!s.has(p[1])) { s.add(p[1]); process.stderr.write("PACKAGE " + p[1] + "\\n"); } }
  else if (r.url.startsWith("file:")) process.stderr.write("LOADED " + r.url + "\\n");
  return r;
}`;
const REGISTER = `import { register } from "node:module"; register(${JSON.stringify("data:text/javascript," + encodeURIComponent(HOOK))});`;
// The same for CommonJS files and packages, from require.cache when the process exits.
const CJS_HOOK = `process.on("exit", () => {
  for (const f of Object.keys(require.cache)) {
    const p = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(f);
    process.stderr.write(p ? "PACKAGE " + p[1] + "\\n" : "LOADED file://" + f + "\\n");
  }
});`;

let env: AgentEnv;
afterEach(() => env?.cleanup());

function restoreWith(noBundle: boolean): { code: number | null; stderr: string; loaded: string[]; packages: string[] } {
  rmSync(join(env.config.runDir, "current"), { force: true });
  for (const d of readdirSync(env.config.runDir)) if (/^\d/.test(d)) rmSync(join(env.config.runDir, d), { recursive: true });
  const flags = ["--identity", env.hostKey, "--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir];
  return runHooked(["restore", ...flags], noBundle);
}

function runHooked(args: string[], noBundle: boolean): { code: number | null; stderr: string; loaded: string[]; packages: string[] } {
  const hook = join(env.root, "cjs-hook.cjs");
  writeFileSync(hook, CJS_HOOK);
  const r = spawnSync(process.execPath, ["-r", hook, "--import", "data:text/javascript," + encodeURIComponent(REGISTER), join(DIST, "bin.cjs"), ...args], {
    encoding: "utf8",
    env: { ...process.env, NIXSEAL_AGENT_NO_BUNDLE: noBundle ? "1" : "" },
  });
  const loaded = [...new Set([...r.stderr.matchAll(/^LOADED file:\/\/(\S+)$/gm)].map((m) => m[1]!.slice(DIST.length + 1)))].filter((f) => !f.endsWith("cjs-hook.cjs"));
  const packages = [...new Set([...r.stderr.matchAll(/^PACKAGE (\S+)$/gm)].map((m) => m[1]!))];
  return { code: r.status, stderr: r.stderr.replace(/^(LOADED|PACKAGE) .*\n/gm, ""), loaded, packages };
}

/** name -> content and mode of what /run/keys shows. */
function keys(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(env.config.keysDir).sort()) {
    const f = join(env.config.keysDir, n);
    out[n] = `${readFileSync(f, "utf8")} ${(statSync(f).mode & 0o777).toString(8)}`;
  }
  return out;
}

describe.skipIf(!existsSync(join(DIST, "bin.cjs")))("the agent's boot bundle", () => {
  it("bin.cjs restore loads the bundle (3 files of the project, all CommonJS), and restores what the tsc modules restore", async () => {
    expect(existsSync(join(DIST, "agent.bundle.cjs")), "npm run build makes dist/host-agent/agent.bundle.cjs").toBe(true);
    env = makeEnv();
    const secrets = Array.from({ length: 5 }, (_, i) => ({ name: `k${i}`, value: `boot-bundle-${i}`, mode: i % 2 ? "0440" : "0400" }));
    await importBundle(env.config, await writeBundle(join(env.root, "b"), env.hostPub, secrets));

    const bundled = restoreWith(false);
    expect(bundled.code, bundled.stderr).toBe(0);
    expect(bundled.loaded.sort()).toEqual(["agent.bundle.cjs", expect.stringMatching(/^agent\.chunk-boot-[\w-]+\.cjs$/), "bin.cjs"]);
    const viaBundle = keys();
    expect(Object.keys(viaBundle)).toHaveLength(5);

    const plain = restoreWith(true);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.loaded.length).toBeGreaterThan(20);
    expect(plain.loaded).not.toContain("agent.bundle.cjs");
    expect(keys()).toEqual(viaBundle);
    expect(plain.stderr.replace(/generation \d+/, "")).toBe(bundled.stderr.replace(/generation \d+/, ""));
    // zod costs ~50 ms of CPU and @fastify/error pulls in node:http: neither is on the boot path
    for (const run of [bundled, plain]) expect(run.packages.filter((p) => p === "zod" || p === "@fastify/error")).toEqual([]);
    // the hook does see packages: checking a manifest loads the schema
    expect(runHooked(["check", join(env.root, "b", "manifest.json")], false).packages).toContain("zod");
  });

  it("the other commands run from the bundle's chunks: status, check, usage errors", async () => {
    env = makeEnv();
    const dir = await writeBundle(join(env.root, "b"), env.hostPub, [{ name: "k", value: "boot-bundle-k" }]);
    const run = (...args: string[]) => spawnSync(process.execPath, [join(DIST, "bin.cjs"), ...args], { encoding: "utf8" });
    const check = run("check", dir);
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toContain("every file matches its sha256");
    const usage = run("frobnicate");
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("unknown command frobnicate");
    const flags = ["--identity", env.hostKey, "--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir];
    expect(run("import", dir, ...flags).status).toBe(0);
    const status = run("status", "--json", ...flags);
    expect(status.status, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).secrets).toEqual([expect.objectContaining({ name: "k" })]);
  });
});

// SIGKILL of the agent at random points during activation: /run/keys must show a
// whole generation, old or new, after every kill. The agent runs as a real child
// process (the built dist/host-agent/bin.cjs) and is killed at a random delay.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importBundle, stage } from "../../host-agent/generations/operations.js";
import { makeEnv, writeBundle, type AgentEnv } from "./support.js";

const AGENT = join(import.meta.dirname, "..", "..", "dist", "host-agent", "bin.cjs");
const N = 40;
const TRIALS = 60;

let env: AgentEnv;
let flags: string[];
beforeAll(async () => {
  env = makeEnv();
  flags = ["--identity", env.hostKey, "--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir];
  const secrets = (gen: number) => Array.from({ length: N }, (_, i) => ({ name: `k${i}`, value: `gen${gen}-value-${i}`, mode: gen === 1 ? "0400" : "0440" }));
  await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, secrets(1)));
  await stage(env.config, await writeBundle(join(env.root, "b2"), env.hostPub, secrets(2)));
});
afterAll(() => env?.cleanup());

/** Which generation /run/keys shows; throws unless it is one generation, whole. */
function visibleGeneration(): 1 | 2 {
  const names = readdirSync(env.config.keysDir).sort();
  expect(names).toEqual(Array.from({ length: N }, (_, i) => `k${i}`).sort());
  const gens = new Set<number>();
  for (const name of names) {
    const file = join(env.config.keysDir, name);
    const m = /^gen([12])-value-(\d+)$/.exec(readFileSync(file, "utf8"));
    expect(m, `${name} holds a whole value`).not.toBeNull();
    expect(m![2]).toBe(name.slice(1));
    gens.add(Number(m![1]));
    expect(statSync(file).mode & 0o777).toBe(m![1] === "1" ? 0o400 : 0o440);
  }
  expect(gens.size, "one generation, not a mix").toBe(1);
  return [...gens][0] as 1 | 2;
}

function runAgent(args: string[], killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const env2 = { ...process.env };
  delete env2.NODE_EXTRA_CA_CERTS;
  const t0 = performance.now();
  const child = spawn(process.execPath, [AGENT, ...args, ...flags], { stdio: "ignore", env: env2 });
  if (killAfterMs !== undefined) setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, ms: performance.now() - t0 })));
}

describe("SIGKILL during activation", () => {
  it(`leaves /run/keys showing one whole generation after each of ${TRIALS} kills`, { timeout: 300_000 }, async () => {
    expect(existsSync(AGENT), "run npm run build first").toBe(true);
    expect(visibleGeneration()).toBe(1);
    // one full activation to learn how long the window is
    const full = await runAgent(["activate", "2"]);
    expect(full.code).toBe(0);
    expect(visibleGeneration()).toBe(2);
    const seen = { killed: 0, finished: 0, sawOld: 0, sawNew: 0, midWrite: 0 };
    let target = 1;
    for (let i = 0; i < TRIALS; i++) {
      const r = await runAgent(["activate", String(target)], Math.random() * full.ms * 1.1);
      if (r.signal === "SIGKILL") seen.killed++;
      else seen.finished++;
      // a generation dir that is not live: the kill landed while it was being written
      const live = readlinkSync(join(env.config.runDir, "current"));
      if (readdirSync(env.config.runDir).some((n) => /^\d/.test(n) && n !== live)) seen.midWrite++;
      const shown = visibleGeneration();
      if (shown === target) seen.sawNew++;
      else seen.sawOld++;
      if (shown === target) target = target === 1 ? 2 : 1;
    }
    // the kills landed on both sides of the flip
    expect(seen.killed).toBeGreaterThanOrEqual(TRIALS / 2);
    expect(seen.sawOld).toBeGreaterThan(0);
    expect(seen.sawNew).toBeGreaterThan(0);
    expect(seen.midWrite, "some kills interrupted a generation being written").toBeGreaterThan(0);
    // after all that, a clean activation still works and leaves only the live dir
    const last = await runAgent(["activate", String(target)]);
    expect(last.code).toBe(0);
    expect(visibleGeneration()).toBe(target);
    const runEntries = readdirSync(env.config.runDir).filter((n) => n !== ".lock");
    expect(runEntries.sort()).toEqual(["current", readlinkSync(join(env.config.runDir, "current"))].sort());
  });
});

// agent.json through the built agent (dist/host-agent/bin.cjs): validated by the zod
// schema once, then sealed (stateDir/.agent-json.sha256), so the same bytes load without
// zod at the next start (each boot restore, each start of the socket-activated API);
// any other bytes, a bad edit above all, go through the schema again.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CONFIG_SEAL } from "../../host-agent/config/load.js";
import { makeEnv, type AgentEnv } from "./support.js";

const AGENT = join(import.meta.dirname, "..", "..", "dist", "host-agent", "bin.cjs");
const HOOK = `process.on("exit", () => process.stderr.write("ZOD " + Object.keys(require.cache).some((f) => f.includes("/node_modules/zod/")) + "\\n"));`;
let env: AgentEnv;
afterEach(() => env?.cleanup());

describe.skipIf(!existsSync(AGENT))("agent.json", () => {
  it("is validated by the schema once; the same bytes then load without zod; a bad edit is still refused", () => {
    env = makeEnv();
    const file = join(env.root, "agent.json");
    const hook = join(env.root, "hook.cjs");
    writeFileSync(hook, HOOK);
    const { identityPaths, stateDir, runDir, keysDir } = env.config;
    const write = (extra: object) => writeFileSync(file, JSON.stringify({ identityPaths, stateDir, runDir, keysDir, restartUnits: false, ...extra }, null, 2));
    const status = () => {
      const r = spawnSync(process.execPath, ["-r", hook, AGENT, "status", "--json", "--config", file], { encoding: "utf8" });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/^ZOD \w+\n/m, ""), zod: /^ZOD true$/m.test(r.stderr) };
    };
    mkdirSync(stateDir, { recursive: true, mode: 0o700 }); // as systemd's StateDirectory= has it
    write({ keepGenerations: 3 });
    const first = status();
    expect(first.code, first.stderr).toBe(0);
    expect(first.zod).toBe(true);
    expect(statSync(join(stateDir, CONFIG_SEAL)).mode & 0o777).toBe(0o600);
    const again = status();
    expect(again.code, again.stderr).toBe(0);
    expect(again.zod).toBe(false);
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse(first.stdout));

    write({ keepGenerations: 0 });
    const bad = status();
    expect(bad.code).not.toBe(0);
    expect(bad.zod).toBe(true);
    expect(bad.stderr).toMatch(/keepGenerations/);
    write({ keepGenerations: 4 });
    expect(status().zod).toBe(true);
    expect(status().zod).toBe(false);
    expect(readFileSync(join(stateDir, CONFIG_SEAL), "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
  });
});

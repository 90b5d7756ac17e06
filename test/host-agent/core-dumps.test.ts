// A crash of the agent dumps none of its memory. The units set LimitCORE=0 (units.test
// and the test hosts check it); the process itself sets /proc/self/coredump_filter to 0,
// which holds whatever RLIMIT_CORE and core_pattern say. Here a real agent, with the core
// limit raised on purpose, loads its host key, is sent SIGABRT, and its core file is
// searched for the key; a control run with the kernel's default filter shows the search
// finds the key when the filter is not set.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StopWaiting, waitFor } from "../hosts/harness/wait.js";
import { makeEnv, writeBundle, type AgentEnv } from "./support.js";

const AGENT = join(import.meta.dirname, "..", "..", "dist", "host-agent", "bin.cjs");
const pattern = readFileSync("/proc/sys/kernel/core_pattern", "utf8").trim();
/** A plain file name in the crashing process's working directory (not a pipe to a collector). */
const dumpsToCwd = !pattern.startsWith("|") && !pattern.includes("/");

let env: AgentEnv;
let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  env?.cleanup();
});

/** The agent's API on a socket of its own, started with the core limit raised. */
async function startAgent(cwd: string): Promise<{ proc: ChildProcess; socket: string }> {
  const socket = join(cwd, "sock", "agent.sock");
  const config = join(cwd, "agent.json");
  writeFileSync(config, JSON.stringify({ ...env.config, socket }));
  const proc = spawn("sh", ["-c", `ulimit -c unlimited && exec "$0" "$@"`, process.execPath, AGENT, "serve", "--config", config], { cwd, stdio: ["ignore", "ignore", "pipe"], env: { PATH: process.env.PATH } });
  child = proc;
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  await waitFor(
    () => {
      if (proc.exitCode !== null) throw new StopWaiting(`the agent exited: ${err}`);
      return err.includes("listening on");
    },
    { timeoutMs: 20_000, what: "the agent to listen" },
  );
  return { proc, socket };
}

function post(socket: string, path: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Aborts the process and returns the bytes of every core file it left in cwd. */
async function crash(proc: ChildProcess, cwd: string): Promise<Buffer[]> {
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGABRT");
  await exited;
  return readdirSync(cwd)
    .filter((f) => f.startsWith("core"))
    .map((f) => readFileSync(join(cwd, f)));
}

/** 48 characters from the middle of the private key's base64: in memory while the key is loaded. */
function keyNeedle(): string {
  const body = readFileSync(env.hostKey, "utf8").split("\n").filter((l) => l && !l.startsWith("-----")).join("");
  return body.slice(40, 88);
}

describe("core dumps", () => {
  it("the agent sets its coredump_filter to 0 before it reads a key", async () => {
    env = makeEnv();
    const cwd = mkdtempSync(join(env.root, "cwd-"));
    const { proc } = await startAgent(cwd);
    expect(readFileSync(`/proc/${proc.pid}/coredump_filter`, "utf8").trim()).toBe("00000000");
    expect(readFileSync(`/proc/${proc.pid}/limits`, "utf8")).toMatch(/Max core file size\s+unlimited/); // raised on purpose, for the next test
    proc.kill("SIGTERM");
  });

  it.skipIf(!dumpsToCwd)("a crash with the core limit raised writes no key into the core file; with the default filter it would", async () => {
    env = makeEnv();
    const dir = await writeBundle(join(env.root, "b"), env.hostPub, [{ name: "a", value: "core-dump-value" }]);
    const needle = keyNeedle();
    for (const filter of ["ours", "kernel default"] as const) {
      const cwd = mkdtempSync(join(env.root, "cwd-"));
      const { proc, socket } = await startAgent(cwd);
      expect(await post(socket, "/stage", { dir })).toBe(200); // the host key is loaded, the value decrypted
      if (filter === "kernel default") writeFileSync(`/proc/${proc.pid}/coredump_filter`, "0x33");
      const cores = await crash(proc, cwd);
      expect(cores.length, `a core file in ${cwd} (core_pattern ${pattern})`).toBe(1);
      const found = cores[0]!.includes(needle) || cores[0]!.includes(Buffer.from("core-dump-value"));
      if (filter === "ours") {
        expect(found).toBe(false);
        expect(cores[0]!.length).toBeLessThan(1024 * 1024); // notes only: no memory mapping
      } else {
        expect(found).toBe(true);
      }
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});


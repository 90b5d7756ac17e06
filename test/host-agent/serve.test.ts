// `nixseal-agent serve` socket-activated, with systemd's own socket-activation tool
// (systemd-socket-activate: binds the socket, passes it as fd 3 with LISTEN_FDS and
// LISTEN_PID, execs the agent) and run by hand. The queueing across an idle exit needs
// systemd itself: test/hosts/agent-socket.test.ts.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../hosts/harness/wait.js";
import { makeEnv, type AgentEnv } from "./support.js";

const AGENT = join(import.meta.dirname, "..", "..", "dist", "host-agent", "bin.cjs");
const IDLE_SECONDS = 1;
let env: AgentEnv | undefined;
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  child = undefined;
  env?.cleanup();
  env = undefined;
});

interface Run {
  child: ChildProcess;
  socket: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; at: number }>;
}

function start(socketActivated: boolean, extraEnv: Record<string, string> = {}): Run {
  env = makeEnv();
  const socket = env.config.socket;
  mkdirSync(join(socket, ".."), { recursive: true, mode: 0o700 });
  const configFile = join(env.root, "agent.json");
  const { identityPaths, stateDir, runDir, keysDir } = env.config;
  writeFileSync(configFile, JSON.stringify({ identityPaths, stateDir, runDir, keysDir, socket, restartUnits: false, idleExitSeconds: IDLE_SECONDS }));
  const agent = [process.execPath, AGENT, "serve", "--config", configFile];
  const argv = socketActivated ? ["systemd-socket-activate", "-l", socket, ...agent] : agent;
  const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...extraEnv };
  const c = spawn(argv[0]!, argv.slice(1), { env: childEnv, stdio: ["ignore", "ignore", "pipe"] });
  child = c;
  let err = "";
  c.stderr!.on("data", (d: Buffer) => (err += d.toString("utf8")));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => c.once("exit", (code) => resolve({ code, at: Date.now() })));
  return { child: c, socket, stderr: () => err, exited };
}

function get(socket: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, agent: false }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const socketExists = (socket: string) => () => {
  try {
    return statSync(socket).isSocket();
  } catch {
    return false;
  }
};

/** Resolves true if the process exits within ms, false if it is still running then. */
async function exitsWithin(run: Run, ms: number): Promise<boolean> {
  return Promise.race([run.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

describe("nixseal-agent serve", () => {
  it("socket-activated: answers on the socket systemd passed, then exits 0 once idle", { timeout: 30_000 }, async () => {
    const run = start(true);
    await waitFor(socketExists(run.socket), { timeoutMs: 10_000, what: "the socket" });
    // the connection is queued on the socket while the agent starts
    const health = await get(run.socket, "/health");
    const answeredAt = Date.now();
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ ok: true, current: null });
    const { code, at } = await run.exited;
    expect(code).toBe(0);
    expect(at - answeredAt).toBeGreaterThanOrEqual(IDLE_SECONDS * 1000 - 50);
    expect(run.stderr()).toContain("socket from systemd, exits after 1 s idle");
    expect(run.stderr()).toContain(`no connection for ${IDLE_SECONDS} s: exiting`);
  });

  it("an open connection keeps it up past the idle period; its request is answered, then it exits", { timeout: 30_000 }, async () => {
    const run = start(true);
    await waitFor(socketExists(run.socket), { timeoutMs: 10_000, what: "the socket" });
    const conn = connect(run.socket);
    await new Promise<void>((resolve, reject) => conn.once("connect", resolve).once("error", reject));
    // accepted (a first request on another connection proves the agent is up), then silent
    expect((await get(run.socket, "/health")).status).toBe(200);
    expect(await exitsWithin(run, IDLE_SECONDS * 3000)).toBe(false);
    let reply = "";
    conn.on("data", (d: Buffer) => (reply += d.toString("utf8")));
    const ended = new Promise<void>((resolve) => conn.once("close", () => resolve()));
    conn.end("GET /health HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n");
    await ended;
    expect(reply).toMatch(/^HTTP\/1.1 200 /);
    expect((await run.exited).code).toBe(0);
  });

  it("run by hand (no socket from systemd, or one meant for another process): binds the path 0600 and stays up until SIGTERM", { timeout: 30_000 }, async () => {
    const run = start(false, { LISTEN_FDS: "1", LISTEN_PID: "1" });
    await waitFor(socketExists(run.socket), { timeoutMs: 10_000, what: "the socket" });
    expect(statSync(run.socket).mode & 0o777).toBe(0o600);
    expect((await get(run.socket, "/health")).status).toBe(200);
    expect(await exitsWithin(run, IDLE_SECONDS * 3000)).toBe(false);
    expect(run.stderr()).toContain(`listening on ${run.socket}`);
    run.child.kill("SIGTERM");
    expect((await run.exited).code).toBe(0);
  });
});

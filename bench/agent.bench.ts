// The host agent's memory and its cold start, on a real systemd test host (needs root):
// - memory between deploys: the socket-activated agent after a deploy and its idle
//   period (no process: 0 MB) against the same agent kept resident (idleExitSeconds 0,
//   as every host ran it before socket activation), idle after the same deploy;
// - peak RSS while serving a deploy (VmHWM of the agent the deploy started), against the
//   resident agent's peak over the same deploy;
// - the first reply through the socket with no agent running (systemd starts it: Node,
//   Fastify, the app) against a reply from the running agent, GET /health from the box.
import { request } from "node:http";
import { AGENT_ROUTES } from "../core/agent-api.js";
import { HOST_PATHS } from "../core/on-host.js";
import { bootHost, type TestHost } from "../test/hosts/harness/index.js";
import { addHost, addSecret, newRepo, nixsealOk, prepareHost, writeConfig, type TestRepo } from "../test/hosts/fixtures/deploy-env.js";
import { median, range, type BenchResult } from "./report.js";

const SECRETS = 20;
const ROUNDS = 5;
const COLD = 7;
const IDLE_SECONDS = 2;

/** One GET /health through the agent's socket, from the box (the socket seen through the host's root). */
function health(h: TestHost): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: `/proc/${h.pid1}/root${HOST_PATHS.socket}`, path: AGENT_ROUTES.health, agent: false }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`GET ${AGENT_ROUTES.health}: ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

export async function run(): Promise<BenchResult[]> {
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench agent: skipped (needs root to boot a test host)\n");
    return [];
  }
  let h: TestHost | undefined;
  let repo: TestRepo | undefined;
  try {
    h = await bootHost("benchagent");
    const host = h;
    const agentPid = async () => Number((await host.exec("systemctl show -P MainPID nixseal-agent.service")).stdout.trim());
    /** VmRSS and VmHWM of the running agent, in MB. */
    const memory = async (): Promise<{ rss: number; hwm: number }> => {
      const pid = await agentPid();
      if (!pid) throw new Error("bench agent: no agent running");
      const status = (await host.exec(`cat /proc/${pid}/status`)).stdout;
      const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)![1]) / 1024;
      return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
    };
    /** Resident memory of every agent process (0 when none runs). */
    const residentMb = async () => Number((await host.exec("ps -C node -o rss=,args= | awk '/host-agent\\/bin.cjs serve/ { s += $1 } END { print s / 1024 }'")).stdout.trim());
    const waitIdle = () => host.waitFor(async () => (await agentPid()) === 0 && (await residentMb()) === 0, 30_000, "the agent to exit idle");
    const setIdle = async (seconds: number) => {
      await host.writeFile(HOST_PATHS.config, JSON.stringify({ idleExitSeconds: seconds }) + "\n");
      await host.exec("systemctl stop nixseal-agent.service 2>/dev/null || true"); // the next connection reads the new setting
    };

    await setIdle(IDLE_SECONDS);
    await prepareHost(host, ["nxs-bench"]);
    repo = await newRepo();
    await addHost(repo, host);
    await writeConfig(repo, host.name, "bench");
    for (let i = 0; i < SECRETS; i++) await addSecret(repo, `bench-${i}`, [host.name], `bench-value-${i}`, "nxs-bench");
    const deploy = async (round: string) => {
      await nixsealOk(repo!, ["secrets", "rotate", "bench-0", "--generate", "32"]);
      await writeConfig(repo!, host.name, round);
      await nixsealOk(repo!, ["deploy", host.name]);
    };
    await deploy("warm-up");

    const peak: number[] = [];
    const idle: number[] = [];
    const residentPeak: number[] = [];
    const residentIdle: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // socket-activated: started by the deploy, gone after its idle period
      await waitIdle();
      await deploy(`socket ${i}`);
      peak.push((await memory()).hwm);
      await waitIdle();
      idle.push(await residentMb());
      // resident: the same agent told never to exit, after the same kind of deploy
      await setIdle(0);
      await deploy(`resident ${i}`);
      await host.waitFor(async () => (await agentPid()) > 0, 10_000, "the resident agent");
      const m = await memory();
      residentPeak.push(m.hwm);
      residentIdle.push(m.rss);
      await setIdle(IDLE_SECONDS);
    }

    const cold: number[] = [];
    const warm: number[] = [];
    const coldCpu: number[] = [];
    for (let i = 0; i < COLD; i++) {
      await waitIdle();
      cold.push(await health(host));
      // the CPU the start and the first reply took (systemd's accounting of this invocation): what a quiet host waits for
      coldCpu.push(Number((await host.exec("systemctl show -P CPUUsageNSec nixseal-agent.service")).stdout.trim()) / 1e6);
      warm.push(await health(host));
    }
    const where = `test host (real systemd), ${SECRETS} secrets, a deploy = stage + activate + rebuild stand-in, ${ROUNDS} rounds`;
    return [
      {
        name: "agent memory between deploys",
        subject: `socket-activated agent after a deploy and ${IDLE_SECONDS} s idle (sum of RSS of agent processes); ${where}`,
        baseline: "the resident agent (idleExitSeconds 0), idle after the same deploy",
        unit: "MB",
        subjectMs: median(idle),
        baselineMs: median(residentIdle),
        ranges: { subject: range(idle), baseline: range(residentIdle) },
      },
      {
        name: "agent peak RSS while serving a deploy",
        subject: `VmHWM of the agent the deploy started; ${where}`,
        baseline: "VmHWM of the resident agent over the same deploy",
        unit: "MB",
        subjectMs: median(peak),
        baselineMs: median(residentPeak),
        ranges: { subject: range(peak), baseline: range(residentPeak) },
      },
      {
        name: "first reply through the socket, agent not running",
        subject: `GET /health from the box, systemd starts the agent (cold), ${COLD} runs; CPU of the start and reply ${median(coldCpu).toFixed(0)} ms (${range(coldCpu).map((x) => x.toFixed(0)).join("-")})`,
        baseline: "the same request to the running agent (warm)",
        subjectMs: median(cold),
        baselineMs: median(warm),
        ranges: { subject: range(cold), baseline: range(warm) },
        below: 400,
      },
    ];
  } finally {
    await h?.stop().catch(() => undefined);
    await repo?.cleanup();
  }
}

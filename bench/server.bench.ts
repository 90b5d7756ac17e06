// nixseal-server under load, on loopback and bounded in time: 2,000 hosts (each with its
// own ed25519 host key, signing every request) long-poll with the agent's own follow loop
// (host-agent/pull/client.ts, minus the install), then one push of a new bundle to each,
// uploaded the way nixseal push does it (cli/server/upload-bundles.ts: batches of up to
// 250 bundles / 4 MiB, two at once). Measured in the same run:
//   - delivery: from the push's start (manifests built, signed and uploaded inside the
//     timed span; the ciphertext made before it, as a repo holds it) to each host having
//     verified its new bundle (p50, p99, max); the
//     baselines are one host following alone, pushed the same way, and the same 2,000
//     pushed one request per bundle (PUT, 16 at a time), as before batches;
//   - signed fetches per second (GET latest, 64 at a time), against the same fetches
//     with the operator's bearer token (what a token costs nothing to check);
//   - the server's RSS with 2,000 long-polls open, and its peak;
//   - the same with two replicas on PostgreSQL (hosts split between them, the push on
//     one of them), against the single file-store server.
// The servers are the real nixseal-server (dist/server/bin.js) as child processes.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { bundleSigner } from "../core/bundle-signing.js";
import { requestJson } from "../core/http-json.js";
import { BUNDLE_FORMAT, encrypt, parseRecipient, type BundleManifest } from "../core/index.js";
import type { SshEd25519PrivateKey } from "../core/keys/ssh-private.js";
import { parseSshPublicKey } from "../core/keys/ssh-public.js";
import { sshString } from "../core/keys/ssh-wire.js";
import { FLEET_FORMAT } from "../core/schema/fleet.js";
import { BundleUploader } from "../cli/server/upload-bundles.js";
import { follow } from "../host-agent/pull/client.js";
import { startPostgres } from "../test/server/postgres.js";
import { median, type BenchResult } from "./report.js";

const HOSTS = Number(process.env.NIXSEAL_BENCH_SERVER_HOSTS ?? 2000);
const PUSH_JOBS = 16;
const PHASE_TIMEOUT_MS = 180_000;
const SERVER_JS = join(import.meta.dirname, "..", "server", "bin.js");

interface Host {
  name: string;
  key: SshEd25519PrivateKey;
  line: string;
}

function makeHost(name: string): Host {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pub = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  const seed = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
  const wire = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  return { name, key: { type: "ssh-ed25519", seed, publicKey: { type: "ssh-ed25519", wire, key: pub, comment: name } }, line: `ssh-ed25519 ${wire.toString("base64")}` };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function withDeadline<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`bench server: ${what} did not finish in ${PHASE_TIMEOUT_MS / 1000} s`)), PHASE_TIMEOUT_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`bench server: ${what} not reached in ${PHASE_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 20)); // polling interval of the condition
  }
}

/** CPU time (user + system) a process has used, from /proc/PID/stat (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMb(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

function startServer(args: string[]): Promise<{ child: ChildProcess; url: URL }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const child = spawn(process.execPath, [SERVER_JS, ...args, "--port", "0"], { stdio: ["ignore", "ignore", "pipe"], env });
    let err = "";
    let listening = false;
    child.stderr!.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-8192);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m && !listening) {
        listening = true;
        resolve({ child, url: new URL(m[1]! + "/") });
      }
    });
    child.on("exit", (code, signal) => {
      // A server that dies under load says why, whatever the bench was waiting for.
      if (listening && signal !== "SIGTERM" && signal !== "SIGKILL" && code !== 0) process.stderr.write(`bench server: nixseal-server ${args.join(" ")} exited ${code ?? signal}:\n${err}\n`);
      reject(new Error(`nixseal-server exited ${code ?? signal}: ${err}`));
    });
  });
}

async function eachLimited<T>(items: T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

interface Setup {
  hosts: Host[];
  admin: SshEd25519PrivateKey;
  token: string;
}

/** A small secret encrypted to the host's key: what the repo holds before a push (made outside the timed span). */
async function encryptedFor(h: Host): Promise<Buffer> {
  return Buffer.from(encrypt(randomBytes(32), [await parseRecipient(h.line)]));
}

/** The host's bundle around that ciphertext, numbered and signed by the admin: what nixseal push builds. */
function bundleFor(h: Host, sequence: number, admin: SshEd25519PrivateKey, blob: Buffer) {
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    host: h.name,
    id: createHash("sha256").update(`${h.name}-${sequence}-${randomBytes(8).toString("hex")}`).digest("hex"),
    createdAt: new Date().toISOString(),
    sequence,
    secrets: [{ name: "token", file: "token.age", sha256: createHash("sha256").update(blob).digest("hex"), owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: sequence }],
  };
  return { manifest, files: { "token.age": blob.toString("base64") }, signature: bundleSigner(admin)(manifest) };
}

type PushMode = "batched" | "per-bundle";

/** Pushes one new bundle to each host: in batches as nixseal push does, or one PUT per bundle (PUSH_JOBS at once). */
async function pushAll(server: URL, s: Setup, hosts: Host[], sequence: number, blobs: Map<string, Buffer>, mode: PushMode = "batched"): Promise<{ signMs: number }> {
  const t0 = performance.now();
  const bodies = hosts.map((h) => bundleFor(h, sequence, s.admin, blobs.get(h.name)!));
  const signMs = performance.now() - t0;
  if (mode === "per-bundle") {
    await eachLimited(bodies, PUSH_JOBS, async (b) => {
      await requestJson(server, `v1/hosts/${b.manifest.host}/bundles`, { method: "PUT", token: s.token, body: b, timeoutMs: 60_000, maxBytes: 1 << 20 });
    });
    return { signMs };
  }
  const up = new BundleUploader((method, path, body) => requestJson(server, path, { method, token: s.token, body, timeoutMs: 120_000, maxBytes: 16 << 20 }), server.origin);
  for (const b of bodies) await up.add(b);
  const failed = [...(await up.finish()).values()].filter((r) => !r.ok);
  if (failed.length) throw new Error(`bench server: ${failed.length} bundles refused, e.g. ${JSON.stringify(failed[0])}`);
  return { signMs };
}

interface Delivery {
  fromPushStart: number[];
  pushMs: number;
  /** Building and signing the bundles (inside pushMs). */
  signMs: number;
  /** CPU the servers and the bench process (the 2,000 simulated hosts and the push) used from the push's start to the last delivery. */
  serverCpuMs: number;
  fleetCpuMs: number;
  rssWithPollsMb: number;
  peakMb: number;
}

/**
 * Starts followers for `hosts` (each on servers[i % servers.length]), waits until all
 * run sequence 1 and wait, then pushes sequence 2 through servers[0].
 */
async function measureDelivery(servers: Array<{ child: ChildProcess; url: URL }>, s: Setup, hosts: Host[], mode: PushMode = "batched"): Promise<Delivery> {
  const trusted = [parseSshPublicKey(`ssh-ed25519 ${Buffer.from(s.admin.publicKey.wire).toString("base64")}`)];
  const arrived = new Map<string, number>();
  const running = new Map<string, number>();
  const stop = new AbortController();
  // Every simulated host's requests listen on this one signal.
  setMaxListeners(0, stop.signal);
  const loops = hosts.map((h, i) =>
    follow(
      { server: servers[i % servers.length]!.url, host: h.name, signer: { key: h.key, principal: { kind: "host", host: h.name } }, trusted },
      {
        after: () => running.get(h.name) ?? 0,
        install: async (b) => {
          running.set(h.name, b.manifest.sequence!);
          if (b.manifest.sequence === 2) arrived.set(h.name, performance.now());
        },
        onError: () => {},
        signal: stop.signal,
        waitSeconds: 120,
      },
    ),
  );
  try {
    await waitFor("every host on sequence 1", () => [...running.values()].filter((v) => v === 1).length === hosts.length);
    const open = async () => {
      let n = 0;
      for (const srv of servers) {
        // A kept-alive connection the server closed as it went idle fails once: look again.
        const text = await fetch(new URL("metrics", srv.url), { headers: { authorization: `Bearer ${s.token}` } }).then((r) => r.text(), () => "");
        n += Number(/nixseal_server_long_polls_open (\d+)/.exec(text)?.[1] ?? 0);
      }
      return n === hosts.length;
    };
    await waitFor("every long-poll open", open);
    const rssWithPollsMb = servers.reduce((sum, srv) => sum + rssMb(srv.child.pid!).rss, 0);
    const blobs = new Map(await Promise.all(hosts.map(async (h) => [h.name, await encryptedFor(h)] as const)));
    const serverCpu0 = servers.reduce((sum, srv) => sum + cpuMs(srv.child.pid!), 0);
    const fleetCpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { signMs } = await withDeadline("the push", pushAll(servers[0]!.url, s, hosts, 2, blobs, mode));
    const pushMs = performance.now() - t0;
    await waitFor("every host on sequence 2", () => arrived.size === hosts.length);
    const serverCpuMs = servers.reduce((sum, srv) => sum + cpuMs(srv.child.pid!), 0) - serverCpu0;
    const fleet = process.cpuUsage(fleetCpu0);
    const fromPushStart = hosts.map((h) => arrived.get(h.name)! - t0);
    return { fromPushStart, pushMs, signMs, serverCpuMs, fleetCpuMs: (fleet.user + fleet.system) / 1000, rssWithPollsMb, peakMb: servers.reduce((sum, srv) => sum + rssMb(srv.child.pid!).peak, 0) };
  } finally {
    stop.abort();
    await Promise.all(loops);
  }
}

/** GET latest for random hosts, 64 at a time, for `ms`: requests per second. */
async function fetchRate(server: URL, s: Setup, ms: number, auth: "signed" | "token"): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (performance.now() < end) {
      const h = s.hosts[Math.floor(Math.random() * s.hosts.length)]!;
      await requestJson(server, `v1/hosts/${h.name}/bundles/latest`, {
        ...(auth === "signed" ? { signer: { key: h.key, principal: { kind: "host" as const, host: h.name } } } : { token: s.token }),
        timeoutMs: 30_000,
        maxBytes: 1 << 20,
      });
      n++;
    }
  }));
  return n / (ms / 1000);
}

async function seed(server: URL, s: Setup): Promise<void> {
  const fleet = { format: FLEET_FORMAT, hosts: Object.fromEntries(s.hosts.map((h) => [h.name, { hostKey: h.line }])), admins: [{ name: "bench", key: `ssh-ed25519 ${Buffer.from(s.admin.publicKey.wire).toString("base64")}` }] };
  await requestJson(server, "v1/fleet", { method: "PUT", token: s.token, body: fleet, timeoutMs: 60_000, maxBytes: 1 << 20 });
  await pushAll(server, s, s.hosts, 1, new Map(await Promise.all(s.hosts.map(async (h) => [h.name, await encryptedFor(h)] as const))));
}

function describe(label: string, d: Delivery): string {
  const f = (xs: number[]) => `p50 ${median(xs).toFixed(0)} ms, p99 ${quantile(xs, 0.99).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
  const n = d.fromPushStart.length;
  return `${label}: from the push's start ${f(d.fromPushStart)} (the push of ${n} bundles took ${d.pushMs.toFixed(0)} ms, ${d.signMs.toFixed(0)} ms of it building and signing); CPU until the last delivery: servers ${d.serverCpuMs.toFixed(0)} ms (${(d.serverCpuMs / n).toFixed(2)} ms per host), the bench's simulated hosts and push ${d.fleetCpuMs.toFixed(0)} ms (${(d.fleetCpuMs / n).toFixed(2)} ms per host); server RSS with the long-polls open ${d.rssWithPollsMb.toFixed(0)} MB, peak ${d.peakMb.toFixed(0)} MB`;
}

export async function run(): Promise<BenchResult[]> {
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench server: skipped (needs root for the PostgreSQL cluster)\n");
    return [];
  }
  const work = mkdtempSync(join(tmpdir(), "nixseal-bench-server-"));
  const token = randomBytes(24).toString("hex");
  writeFileSync(join(work, "token"), token + "\n", { mode: 0o600 });
  const s: Setup = { hosts: Array.from({ length: HOSTS }, (_, i) => makeHost(`h${i}`)), admin: makeHost("admin").key, token };
  const results: BenchResult[] = [];
  const say = (line: string) => process.stdout.write(`server: ${line}\n`);
  const loadAtStart = loadavg().map((x) => x.toFixed(1)).join(" ");
  let pg: ReturnType<typeof startPostgres> | undefined;
  const children: ChildProcess[] = [];
  try {
    // One server, the file store.
    const file = await startServer(["--storage", join(work, "store"), "--token-file", join(work, "token")]);
    children.push(file.child);
    await withDeadline("seeding the file store", seed(file.url, s));
    const idleMb = rssMb(file.child.pid!).rss;
    const signedRate = await fetchRate(file.url, s, 5000, "signed");
    const tokenRate = await fetchRate(file.url, s, 5000, "token");
    say(`signed fetches ${signedRate.toFixed(0)}/s, bearer-token fetches ${tokenRate.toFixed(0)}/s (64 at a time, 5 s each); idle RSS ${idleMb.toFixed(0)} MB with ${HOSTS} hosts stored`);
    results.push({ name: "server: signed fetches (GET latest, 64 concurrent)", subject: `${signedRate.toFixed(0)} req/s signed by host keys`, baseline: "the same fetches with the bearer token", subjectMs: 1000 / signedRate, baselineMs: 1000 / tokenRate });

    const alone = await measureDelivery([file], s, s.hosts.slice(0, 1));
    say(describe("1 host following alone (file store)", alone));
    // Back to sequence 1 for each big run: a fresh server on a fresh store.
    file.child.kill("SIGTERM");
    const runFile = async (dir: string, mode: PushMode) => {
      const srv = await startServer(["--storage", join(work, dir), "--token-file", join(work, "token")]);
      children.push(srv.child);
      await withDeadline("seeding the file store", seed(srv.url, s));
      const d = await measureDelivery([srv], s, s.hosts, mode);
      srv.child.kill("SIGTERM");
      return d;
    };
    const all = await runFile("store-all", "batched");
    say(describe(`${HOSTS} hosts following (file store, one server, batched push)`, all));
    const single = await runFile("store-single", "per-bundle");
    say(describe(`${HOSTS} hosts following (file store, one server, one PUT per bundle)`, single));
    const p = (d: Delivery, q: number) => quantile(d.fromPushStart, q);
    results.push({ name: `server: push reaches all ${HOSTS} following hosts (p99 from the push's start, file store)`, subject: `batched upload: p50 ${p(all, 0.5).toFixed(0)} ms, p99 ${p(all, 0.99).toFixed(0)} ms`, baseline: `one PUT per bundle, ${PUSH_JOBS} at once (p99 ${p(single, 0.99).toFixed(0)} ms)`, subjectMs: p(all, 0.99), baselineMs: p(single, 0.99) });
    results.push({ name: `server: push reaches all ${HOSTS} following hosts, against 1 host alone (p99, file store)`, subject: `p99 ${p(all, 0.99).toFixed(0)} ms`, baseline: `1 host following alone (${median(alone.fromPushStart).toFixed(0)} ms)`, subjectMs: p(all, 0.99), baselineMs: median(alone.fromPushStart) });

    // Two replicas on PostgreSQL, the push on the first.
    pg = startPostgres();
    const conn = pg.createDatabase("bench");
    const a = await startServer(["--postgres", conn, "--token-file", join(work, "token")]);
    children.push(a.child);
    const b = await startServer(["--postgres", conn, "--token-file", join(work, "token")]);
    children.push(b.child);
    await withDeadline("seeding PostgreSQL", seed(a.url, s));
    const pgSigned = await fetchRate(b.url, s, 5000, "signed");
    say(`PostgreSQL replica: signed fetches ${pgSigned.toFixed(0)}/s (64 at a time, 5 s)`);
    const replicas = await measureDelivery([a, b], s, s.hosts);
    say(describe(`${HOSTS} hosts following (PostgreSQL, two replicas, half on each, batched push on one)`, replicas));
    results.push({ name: `server: ${HOSTS} hosts on two PostgreSQL replicas (p99 from the push's start)`, subject: `p50 ${p(replicas, 0.5).toFixed(0)} ms, p99 ${p(replicas, 0.99).toFixed(0)} ms`, baseline: "the same on one file-store server", subjectMs: p(replicas, 0.99), baselineMs: p(all, 0.99) });
    results.push({ name: "server: signed fetches on a PostgreSQL replica", subject: `${pgSigned.toFixed(0)} req/s`, baseline: "the file store", subjectMs: 1000 / pgSigned, baselineMs: 1000 / signedRate });
    say(`load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} at the end (${loadAtStart} at the start)`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    pg?.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}

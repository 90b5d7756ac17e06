// The test hosts themselves: real systemd machines on one box, with sshd, reboots and power
// cuts, booted in parallel, and nothing left behind, also when a test process dies.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bootHost,
  listRecords,
  machinesCgroup,
  mountsUnder,
  reapStale,
  registryRoot,
  runDir,
  stopAll,
  waitFor,
  type TestHost,
} from "./harness/index.js";
import { projectRoot } from "./harness/paths.js";
import { isAlive, signalIfSame, startTimeOf } from "./harness/proc.js";
import { wildcardListener } from "./harness/ssh-port.js";

// Boot-to-ready of every boot (spawn to `running`), and bootHost() wall time (host keys,
// disk set-up and first boot), for the "< 15 s per host once the image is cached".
const bootTimes: number[] = [];
const bootHostTimes: number[] = [];
const remember = (...hosts: TestHost[]) => hosts.forEach((h) => bootTimes.push(...h.bootTimesMs));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const stats = (xs: number[]) =>
  `median ${median(xs)} ms over ${xs.length} (min ${Math.min(...xs)} ms, max ${Math.max(...xs)} ms)`;

/** bootHost, timed. */
async function boot(name: string, opts?: Parameters<typeof bootHost>[1]): Promise<TestHost> {
  const t0 = performance.now();
  const h = await bootHost(name, opts);
  bootHostTimes.push(Math.round(performance.now() - t0));
  return h;
}

afterAll(async () => {
  await stopAll();
  if (bootTimes.length) console.log(`test hosts: boot to ready ${stats(bootTimes)} boots`);
  if (bootHostTimes.length) console.log(`test hosts: bootHost() incl. keys and disk ${stats(bootHostTimes)} hosts`);
});

/** What a run left on the box: records, state, mounts, cgroups, leases, processes. */
function leftovers(run: string, stateDirs: string[] = []) {
  const cgroups = (() => {
    try {
      return readdirSync(machinesCgroup()).filter((n) => n.startsWith(`${run}.`));
    } catch {
      return [];
    }
  })();
  const leases = (() => {
    try {
      return readdirSync(join(registryRoot(), "addresses")).filter((a) =>
        readFileSync(join(registryRoot(), "addresses", a), "utf8").includes(`"${run}.`),
      );
    } catch {
      return [];
    }
  })();
  // Every machine process runs in the machine's cgroup or names its state dir in argv.
  const procs: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const cg = readFileSync(`/proc/${pid}/cgroup`, "utf8");
      if (cmd.includes(runDir(run)) || cg.includes(`/nixseal-testhosts/${run}.`)) procs.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return {
    records: listRecords().filter((r) => r.run === run).map((r) => r.id),
    runDir: existsSync(runDir(run)),
    stateDirs: stateDirs.filter((d) => existsSync(d)),
    mounts: mountsUnder(runDir(run)),
    cgroups,
    leases,
    procs,
  };
}
const NOTHING = { records: [], runDir: false, stateDirs: [], mounts: [], cgroups: [], leases: [], procs: [] };

describe("two hosts: own ssh keys, clean reboot, power cut", () => {
  let a: TestHost;
  let b: TestHost;
  beforeAll(async () => {
    [a, b] = await Promise.all([boot("a"), boot("b")]);
  });

  it("each answers ssh with its own host key, and the other host's key is refused", async () => {
    expect(a.address).not.toBe(b.address);
    expect(a.address).toMatch(/^127\.0\.1\.\d+$/);
    expect(a.hostKeys.ed25519Pub).not.toBe(b.hostKeys.ed25519Pub);
    expect(a.hostKeys.rsaPub).not.toBe(b.hostKeys.rsaPub);
    for (const [h, other] of [[a, b], [b, a]] as const) {
      expect((await h.ssh("hostname")).stdout.trim()).toBe(h.name);
      expect((await h.exec("hostname")).stdout.trim()).toBe(h.name);
      // Either of its keys alone is enough: both are this machine's.
      expect((await h.ssh("true", { knownHostKeys: [h.hostKeys.rsaPub] })).code).toBe(0);
      expect((await h.ssh("true", { knownHostKeys: [h.hostKeys.ed25519Pub] })).code).toBe(0);
      const wrong = await h.ssh("true", {
        knownHostKeys: [other.hostKeys.ed25519Pub, other.hostKeys.rsaPub],
        check: false,
      });
      expect(wrong.code).toBe(255);
      expect(wrong.stderr).toMatch(/host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i);
      // sshd listens on the machine's own address only.
      const listen = (await h.exec("sshd -T | grep -i '^listenaddress'")).stdout.trim();
      expect(listen).toBe(`listenaddress ${h.address}:${h.port}`);
      // The image's keys were removed: the machine's are the ones the harness made.
      const onDisk = (await h.exec("cat /etc/ssh/ssh_host_ed25519_key.pub")).stdout;
      expect(onDisk.startsWith(h.hostKeys.ed25519Pub)).toBe(true);
    }
  });

  it("has Node and the project read-only inside, the nixseal wrappers, and age", async () => {
    expect((await a.exec("node -e 'process.stdout.write(process.version)'")).stdout).toBe(process.version);
    const pkg = JSON.parse((await a.readFile("/opt/nixseal/package.json")).toString("utf8")) as { name: string };
    expect(pkg.name).toBe("nixseal");
    const write = await a.exec("touch /opt/nixseal/should-not-exist", { check: false });
    expect(write.code).not.toBe(0);
    expect(existsSync(join(projectRoot(), "should-not-exist"))).toBe(false);
    expect((await a.exec("cat /usr/local/bin/nixseal-agent")).stdout).toContain("/opt/nixseal/dist/host-agent/bin.cjs");
    expect((await a.exec("cat /usr/local/bin/nixseal")).stdout).toContain("/opt/nixseal/dist/cli/bin.js");
    expect((await a.exec("age --version")).stdout).toMatch(/^v?1\./);
    // A hung stop fails a clean reboot in 15 s, well inside the harness's reboot timeout.
    expect((await a.exec("systemctl show --property=DefaultTimeoutStopUSec")).stdout.trim()).toBe("DefaultTimeoutStopUSec=15s");
  });

  it("returns from exec when the command leaves a background process behind", async () => {
    const t0 = Date.now();
    const r = await a.exec("echo started; sleep 600 &");
    expect(r.stdout).toBe("started\n");
    expect(Date.now() - t0).toBeLessThan(10_000);
    await a.exec("pkill -x sleep");
  });

  it("rejects a host name that is not a hostname, before touching anything", async () => {
    await expect(bootHost("../etc")).rejects.toThrow(/invalid host name "..\/etc"/);
    await expect(bootHost("A")).rejects.toThrow(/invalid host name/);
  });

  it("keeps /var/lib, empties /run and /tmp and runs enabled units again after a reboot and a power cut", async () => {
    const unit = [
      "[Unit]",
      "Description=marks every boot with its boot id",
      "[Service]",
      "Type=oneshot",
      "RemainAfterExit=yes",
      "ExecStart=/usr/bin/touch /run/booted-%b",
      "[Install]",
      "WantedBy=multi-user.target",
      "",
    ].join("\n");
    const before = new Map<TestHost, string>();
    for (const h of [a, b]) {
      await h.writeFile("/etc/systemd/system/mark-boot.service", unit);
      await h.exec("systemctl daemon-reload && systemctl enable --now mark-boot.service");
      await h.writeFile("/var/lib/nixseal-test/kept", `kept on ${h.name}\n`, 0o600);
      await h.writeFile("/run/nixseal-test/volatile", `gone after boot on ${h.name}\n`);
      await h.writeFile("/tmp/nixseal-test-volatile", "gone after boot\n");
      expect((await h.exec("ls /run | grep ^booted-")).stdout.trim()).toBe(`booted-${h.bootId.replace(/-/g, "")}`);
      before.set(h, h.bootId);
    }

    await Promise.all([a.reboot(), b.powerCut()]);

    for (const h of [a, b]) {
      expect(h.bootId).not.toBe(before.get(h));
      expect((await h.exec("cat /proc/sys/kernel/random/boot_id")).stdout.trim()).toBe(h.bootId);
      expect((await h.readFile("/var/lib/nixseal-test/kept")).toString()).toBe(`kept on ${h.name}\n`);
      expect((await h.exec("stat -c %a /var/lib/nixseal-test/kept")).stdout.trim()).toBe("600");
      // Readable from outside, through the overlay's upper dir.
      expect(readFileSync(join(h.upperDir, "var/lib/nixseal-test/kept"), "utf8")).toBe(`kept on ${h.name}\n`);
      expect((await h.exec("test -e /run/nixseal-test", { check: false })).code).toBe(1);
      expect((await h.exec("test -e /tmp/nixseal-test-volatile", { check: false })).code).toBe(1);
      expect((await h.exec("findmnt -n -o FSTYPE /run; findmnt -n -o FSTYPE /tmp")).stdout).toBe("tmpfs\ntmpfs\n");
      // The enabled unit ran in the new boot, and nothing of the old boot is in /run.
      expect((await h.exec("ls /run | grep ^booted-")).stdout.trim()).toBe(`booted-${h.bootId.replace(/-/g, "")}`);
      expect((await h.exec("systemctl is-active mark-boot.service")).stdout.trim()).toBe("active");
      expect((await h.exec("systemctl is-system-running")).stdout.trim()).toBe("running");
      // Same host keys, still pinned.
      expect((await h.ssh("hostname")).stdout.trim()).toBe(h.name);
    }
    remember(a, b);
  });
});

describe("sshd port", () => {
  it("moves machines off port 22 when the box listens on the wildcard address there", async () => {
    // Linux refuses 127.0.1.N:P while *:P listens; detect that from /proc/net/tcp{,6}.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "0.0.0.0", r));
    const port = (server.address() as AddressInfo).port;
    expect(wildcardListener(port)).toBe(true);
    await new Promise((r) => server.close(r));
    expect(wildcardListener(port)).toBe(false);
    const local = createServer();
    await new Promise<void>((r) => local.listen(0, "127.0.0.1", r));
    expect(wildcardListener((local.address() as AddressInfo).port)).toBe(false);
    await new Promise((r) => local.close(r));
  });

  it("boots a host whose sshd listens on another port, pinned in known_hosts as [addr]:port", async () => {
    const h = await boot("port2222", { sshPort: 2222 });
    expect(h.port).toBe(2222);
    expect(readFileSync(h.knownHostsPath, "utf8")).toContain(`[${h.address}]:2222 ssh-ed25519 `);
    expect((await h.ssh("hostname")).stdout.trim()).toBe("port2222");
    expect((await h.exec("sshd -T | grep -i '^listenaddress'")).stdout.trim()).toBe(`listenaddress ${h.address}:2222`);
    remember(h);
    await h.stop();
  });
});

describe("a boot that ends degraded", () => {
  it("names the failed units, unless the test allows it", async () => {
    const h = await boot("degraded");
    await h.writeFile("/etc/systemd/system/broken.service",
      "[Service]\nType=oneshot\nExecStart=/bin/false\n[Install]\nWantedBy=multi-user.target\n");
    await h.exec("systemctl enable broken.service");
    await expect(h.reboot()).rejects.toThrow(/test host degraded booted degraded; failed units:\n.*broken\.service/);
    await h.reboot({ allowDegraded: true });
    expect(h.state).toBe("degraded");
    await h.exec("systemctl disable broken.service && systemctl reset-failed");
    await h.reboot();
    expect(h.state).toBe("running");
    remember(h);
    await h.stop();
  });
});

describe("many hosts", () => {
  it("boots 10 hosts at once, each with its own address, keys and machine id", async () => {
    const hosts = await Promise.all(Array.from({ length: 10 }, (_, i) => boot(`many${i}`)));
    remember(...hosts);
    expect(new Set(hosts.map((h) => h.address)).size).toBe(10);
    expect(new Set(hosts.map((h) => h.hostKeys.ed25519Pub)).size).toBe(10);
    const ids = await Promise.all(hosts.map(async (h) => (await h.ssh("cat /etc/machine-id")).stdout.trim()));
    expect(new Set(ids).size).toBe(10);
    const names = await Promise.all(hosts.map(async (h) => (await h.ssh("hostname")).stdout.trim()));
    expect(names).toEqual(hosts.map((h) => h.name));
    const pids = hosts.map((h) => h.pid1);
    await Promise.all(hosts.map((h) => h.stop()));
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    for (const h of hosts) expect(existsSync(h.stateDir)).toBe(false);
  });
});

describe("boot time", () => {
  it("boots to ready in under 15 s per host (median of this file's boots), image cached", () => {
    expect(bootTimes.length).toBeGreaterThanOrEqual(10);
    expect(median(bootTimes)).toBeLessThan(15_000);
    expect(median(bootHostTimes)).toBeLessThan(15_000);
  });
});

describe("teardown leaves nothing", () => {
  let compiled: string;
  beforeAll(async () => {
    // A plain Node child needs JavaScript: compile the harness (it imports only node:*).
    compiled = mkdtempSync(join(tmpdir(), "nixseal-harness-js-"));
    const tsc = join(projectRoot(), "node_modules/typescript/bin/tsc");
    const r = await runNode([tsc, "--outDir", compiled, "--rootDir", "test/hosts/harness", "--module", "nodenext",
      "--moduleResolution", "nodenext", "--target", "es2022", "--types", "node", "--skipLibCheck", "--strict",
      "test/hosts/harness/index.ts"], {});
    expect(r.code, r.out).toBe(0);
  });
  afterAll(() => rmSync(compiled, { recursive: true, force: true }));

  /** Starts a child node that boots host "orphan" and then idles until killed. */
  async function orphanChild(run: string, env: Record<string, string>, then = "setInterval(() => {}, 60_000);") {
    const script = join(compiled, `child-${run}.mjs`);
    writeFileSync(script, [
      `import { bootHost } from ${JSON.stringify(join(compiled, "index.js"))};`,
      `const h = await bootHost("orphan");`,
      `console.log("READY " + JSON.stringify({ pid1: h.pid1, stateDir: h.stateDir }));`,
      then,
    ].join("\n"));
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, NIXSEAL_TESTHOST_RUN: run, NIXSEAL_TESTHOST_PROJECT: projectRoot(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => child.once("exit", r));
    const line = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`child exited ${child.exitCode}: ${out}`);
      return out.split("\n").find((l) => l.startsWith("READY "));
    }, { timeoutMs: 120_000, what: "the child to boot its host" });
    const info = JSON.parse(line.slice(6)) as { pid1: number; stateDir: string };
    return { child, exited, info };
  }

  it("a SIGKILLed test process takes its machine down, and the reaper removes the rest", async () => {
    const run = `killed-${process.pid}-${Date.now().toString(36)}`;
    const { child, exited, info } = await orphanChild(run, {});
    expect(readFileSync(`/proc/${info.pid1}/comm`, "utf8").trim()).toBe("systemd");
    child.kill("SIGKILL");
    await exited;
    // The parent-death signal chain ends the machine without anyone's help.
    await waitFor(() => !existsSync(`/proc/${info.pid1}`), { timeoutMs: 15_000, what: "the orphan machine to die" });
    await reapStale();
    expect(leftovers(run, [info.stateDir])).toEqual(NOTHING);
  });

  it("a script that uses the harness alone and stops its host leaves nothing, with no reaper", async () => {
    const run = `alone-${process.pid}-${Date.now().toString(36)}`;
    const { child, exited, info } = await orphanChild(run, {}, "await h.stop();");
    await exited;
    expect(child.exitCode).toBe(0);
    expect(existsSync(`/proc/${info.pid1}`)).toBe(false);
    expect(leftovers(run, [info.stateDir])).toEqual(NOTHING);
  });

  it("a machine detached from its killed owner keeps running until the reaper kills it", async () => {
    const run = `detached-${process.pid}-${Date.now().toString(36)}`;
    const { child, exited, info } = await orphanChild(run, { NIXSEAL_TESTHOST_DETACH: "1" });
    child.kill("SIGKILL");
    await exited;
    expect(readFileSync(`/proc/${info.pid1}/comm`, "utf8").trim()).toBe("systemd");
    expect(leftovers(run).procs.length).toBeGreaterThan(1);
    // (A parallel run's globalSetup may be the one that reaps it: either way it must go.)
    await reapStale();
    await waitFor(() => !existsSync(`/proc/${info.pid1}`), { timeoutMs: 5_000, what: "PID 1 to be reaped" });
    expect(leftovers(run, [info.stateDir])).toEqual(NOTHING);
  });

  it("a vitest run whose test fails with a machine up leaves nothing", async () => {
    const vitest = join(projectRoot(), "node_modules/vitest/vitest.mjs");
    const r = await runNode([vitest, "run", "--project", "hosts", "test/hosts/machines.test.ts", "-t", "deliberately failing"], {
      NIXSEAL_TESTHOST_CHILD_FAIL: "1",
    });
    expect(r.code, r.out).toBe(1); // the child's test failed, as written
    const line = r.out.split("\n").find((l) => l.includes("FAILING-CHILD "));
    expect(line, r.out).toBeDefined();
    const info = JSON.parse(line!.slice(line!.indexOf("FAILING-CHILD ") + 14)) as { pid1: number; stateDir: string; run: string };
    await waitFor(() => !existsSync(`/proc/${info.pid1}`), { timeoutMs: 5_000, what: "PID 1 to be reaped" });
    expect(leftovers(info.run, [info.stateDir])).toEqual(NOTHING);
  });

  it("a process whose run's owner dies stops its machines while it lives on", async () => {
    // The run's owner is vitest's main process in real runs; a stand-in process here.
    const run = `ownerless-${process.pid}-${Date.now().toString(36)}`;
    const standIn = spawn("sleep", ["600"], { stdio: "ignore" });
    mkdirSync(runDir(run), { recursive: true });
    writeFileSync(join(runDir(run), "owner.json"), JSON.stringify({ pid: standIn.pid, start: startTimeOf(standIn.pid!) }));
    const { child, exited, info } = await orphanChild(run, {});
    standIn.kill("SIGKILL");
    await waitFor(() => !existsSync(`/proc/${info.pid1}`), { timeoutMs: 10_000, what: "the machine of the ownerless run to die" });
    expect(child.exitCode).toBe(null); // its own process still runs: the watcher did it
    child.kill("SIGKILL");
    await exited;
    await reapStale();
    expect(leftovers(run, [info.stateDir])).toEqual(NOTHING);
  });

  it("a SIGKILLed vitest run leaves nothing, whether its worker lingers or not", async () => {
    const marker = join(compiled, `hang-${Date.now().toString(36)}.json`);
    const vitest = join(projectRoot(), "node_modules/vitest/vitest.mjs");
    const main = spawn(process.execPath, [vitest, "run", "--project", "hosts", "test/hosts/machines.test.ts", "-t", "hangs with a machine up"], {
      cwd: projectRoot(),
      // its own TMPDIR, removed with `compiled`: a SIGKILLed vitest cannot remove its files
      env: { ...process.env, NIXSEAL_TESTHOST_CHILD_HANG: marker, TMPDIR: mkdtempSync(join(compiled, "tmp-")) },
      stdio: "ignore",
    });
    const mainExited = new Promise((r) => main.once("exit", r));
    const info = await waitFor(() => existsSync(marker) && (JSON.parse(readFileSync(marker, "utf8")) as { pid1: number; stateDir: string; run: string }),
      { timeoutMs: 120_000, what: "the child vitest to boot its host" });
    const worker = listRecords().find((r) => r.run === info.run)!.owner;
    main.kill("SIGKILL");
    await mainExited;
    // vitest's worker may live on, stuck in its test; the harness in it sees its run's owner
    // gone and kills its machines.
    await waitFor(() => !existsSync(`/proc/${info.pid1}`), { timeoutMs: 10_000, what: "the machine of the killed run to die" });
    signalIfSame(worker, "SIGKILL");
    await waitFor(() => !isAlive(worker), { timeoutMs: 5_000, what: "the lingering worker to end" });
    await reapStale();
    expect(leftovers(info.run, [info.stateDir])).toEqual(NOTHING);
  });
});

// Runs only inside the child vitest of "a vitest run whose test fails ...".
it.runIf(process.env.NIXSEAL_TESTHOST_CHILD_FAIL === "1")("deliberately failing (child run)", async () => {
  const h = await bootHost("failing");
  console.log(`FAILING-CHILD ${JSON.stringify({ pid1: h.pid1, stateDir: h.stateDir, run: process.env.NIXSEAL_TESTHOST_RUN })}`);
  expect("this test").toBe("failing on purpose, with its machine still up");
});

// Runs only inside the child vitest of "a SIGKILLed vitest run ...": boots, says so, never ends.
it.runIf(!!process.env.NIXSEAL_TESTHOST_CHILD_HANG)("hangs with a machine up (child run)", async () => {
  const h = await bootHost("hanging");
  const info = { pid1: h.pid1, stateDir: h.stateDir, run: process.env.NIXSEAL_TESTHOST_RUN };
  writeFileSync(`${process.env.NIXSEAL_TESTHOST_CHILD_HANG}.tmp`, JSON.stringify(info));
  renameSync(`${process.env.NIXSEAL_TESTHOST_CHILD_HANG}.tmp`, process.env.NIXSEAL_TESTHOST_CHILD_HANG!);
  await new Promise(() => {});
});

/** Runs node with args from the project root; collects stdout+stderr. */
function runNode(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: projectRoot(), env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    child.once("exit", (code) => resolve({ code: code ?? 1, out }));
  });
}

// One test machine: an overlay disk over the cached base image, systemd as PID 1 of its
// own PID, mount, UTS (hostname), IPC and cgroup namespaces, sshd on its own 127.0.1.N (the box's network
// namespace is shared). See test/README.md for the layout and how to debug one.
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeHostKeys, publicKeyLine, type HostKeys } from "./keys.js";
import { childrenOf, isAlive, procId, run, signalIfSame, SYSTEM_PATH, type ProcId, type RawResult } from "./proc.js";
import { reapMachine, removeCgroup, saveRecord, type MachineRecord } from "./registry.js";
import { trace } from "./trace.js";
import { StopWaiting, waitFor, type Truthy, type WaitOptions } from "./wait.js";

/** What `exec` and `ssh` return. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** Sent on stdin: the way to hand a machine a secret (never argv, never env). */
  input?: string | Buffer;
  /** Throw when the command exits non-zero (default true). */
  check?: boolean;
  /** Kill the command after this many ms (default 120 000). */
  timeoutMs?: number;
}

export interface BootOptions {
  /** Accept a boot that ends `degraded` (default false: throw, listing the failed units). */
  allowDegraded?: boolean;
  /** Give up when the machine is not ready after this many ms (default 60 000). */
  timeoutMs?: number;
}

/** Options of bootHost: boot options plus what is fixed for the machine's life. */
export interface HostOptions extends BootOptions {
  /** sshd's port (default 22, or 2222 when the box itself listens on *:22). */
  sshPort?: number;
}

/** A booted test machine. */
export interface TestHost {
  readonly name: string;
  /** Its own loopback address; sshd listens there only. */
  readonly address: string;
  /** sshd's port: 22, or 2222 when the box itself listens on *:22 (see test/README.md). */
  readonly port: number;
  /** Its own SSH host public keys, as authorized_keys-style lines ("ssh-ed25519 AAAA..."). */
  readonly hostKeys: HostKeys;
  /** The run's operator private key (ed25519), authorised for root on every machine. */
  readonly operatorKeyPath: string;
  /** `known_hosts` file pinning this machine's two host keys to its address. */
  readonly knownHostsPath: string;
  /** The overlay's upper dir: everything the machine wrote to its disk, readable from outside. */
  readonly upperDir: string;
  /** Per-machine state: upper/, work/, boot logs, known_hosts. */
  readonly stateDir: string;
  /** The machine's whole file tree from outside (`/proc/<pid1>/root`), while it runs. */
  readonly rootDir: string;
  /** PID (on the box) of the machine's systemd, while it runs. */
  readonly pid1: number;
  /** The current boot's id (what /proc/sys/kernel/random/boot_id says inside). */
  readonly bootId: string;
  /** Boot-to-ready durations of every boot so far, in ms. */
  readonly bootTimesMs: readonly number[];
  /** How the last boot ended up: "running", or "degraded" when allowed. */
  readonly state: string;
  /** Runs `cmd` with /bin/sh -c inside the machine (nsenter into its mount, UTS, IPC and PID namespaces and root, as root). */
  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Runs argv inside the machine, no shell involved; output as bytes. */
  execArgv(argv: string[], opts?: ExecOptions): Promise<RawResult>;
  /** Runs `cmd` over real ssh as root, host key pinned (`opts.knownHostKeys` pins others). */
  ssh(cmd: string, opts?: ExecOptions & { knownHostKeys?: string[] }): Promise<ExecResult>;
  /** The ssh argv (without the remote command) the harness uses, for tools of your own. */
  sshArgs(knownHostsPath?: string): string[];
  /** How known_hosts names this machine: "127.0.1.N", or "[127.0.1.N]:PORT" off port 22. */
  knownHostsName(): string;
  /** Clean reboot: `systemctl reboot` inside, wait for the namespace to end, boot again. */
  reboot(opts?: BootOptions): Promise<void>;
  /**
   * Be the machine's hardware for a reboot someone else starts (e.g. `systemctl reboot`
   * over SSH): wait for the namespace to end, then boot again on the same disk. Start it
   * before the reboot is asked for; opts.timeoutMs bounds the wait and the boot.
   */
  followReboot(opts?: BootOptions): Promise<void>;
  /** Power cut: SIGKILL to PID 1, wait for the namespace to end, boot again. */
  powerCut(opts?: BootOptions): Promise<void>;
  /** Kills the machine and removes its state (keeps it with NIXSEAL_TESTHOST_KEEP=1). */
  stop(): Promise<void>;
  /** Writes a file inside the machine (data on stdin; parent dirs created). */
  writeFile(path: string, data: string | Buffer, mode?: number): Promise<void>;
  /** Reads a file inside the machine. */
  readFile(path: string): Promise<Buffer>;
  /** Polls `cond` until truthy or the deadline passes. */
  waitFor<T>(cond: () => T | Promise<T>, timeoutMs?: number, what?: string): Promise<Truthy<T>>;
  /** True while the machine's PID 1 runs. */
  isRunning(): boolean;
}

/** How the harness boots one machine (shell, so it can be read and run by hand). */
const BOOT_SCRIPT = String.raw`
set -euo pipefail
base=$1 state=$2 cg=$3 node=$4 project=$5
root=$state/root
# Everything below is mounted in this private mount namespace only: when the machine
# ends, the kernel drops all of it, so a killed test can leave no mount behind.
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=$base,upperdir=$state/upper,workdir=$state/work" "$root"
mount -t proc proc "$root/proc"
# Like systemd-nspawn: /proc/sys and /sys read-only (units that would tune the box's
# kernel skip themselves), and a boot id of its own for every boot.
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount --bind "$state/boot_id" "$root/proc/sys/kernel/random/boot_id"
mount --bind /sys "$root/sys"
mount -o remount,bind,ro "$root/sys"
mount --rbind /dev "$root/dev"
mount --bind "$state/console.log" "$root/dev/console"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
mount --bind "$node" "$root/usr/local/bin/node"
mount -o remount,bind,ro "$root/usr/local/bin/node"
mount --bind "$project" "$root/opt/nixseal"
mount -o remount,bind,ro "$root/opt/nixseal"
# Its own cgroup, seen as / through a cgroup namespace: the machine's systemd manages
# that subtree only and never the box's cgroups.
mkdir -p "$cg"
echo 0 >"$cg/cgroup.procs"
export container=lxc
exec unshare --cgroup -- /bin/sh -c 'mount -t cgroup2 cgroup2 "$1/sys/fs/cgroup" && exec chroot "$1" /lib/systemd/systemd --system' nixseal-boot "$root"
`;

const HOST_NAME = /^[a-z][a-z0-9-]{0,30}$/;

/** Throws unless `name` can be a hostname and a path component. */
export function checkHostName(name: string): void {
  if (!HOST_NAME.test(name)) {
    throw new Error(`test hosts: invalid host name ${JSON.stringify(name)}: use [a-z][a-z0-9-]{0,30}`);
  }
}

/** Everything needed to create a Machine; bootHost (index.ts) gathers it. */
export interface MachineSetup {
  name: string;
  run: string;
  address: string;
  sshPort: number;
  stateDir: string;
  cgroup: string;
  baseImage: string;
  operatorKeyPath: string;
  projectRoot: string;
  keep: boolean;
  /** Let the machine outlive the process that booted it (no parent-death signal). */
  detach: boolean;
}

/** Machines this process booted and has not stopped, for stopAll() and the exit hook. */
export const liveMachines = new Set<Machine>();

export class Machine implements TestHost {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  hostKeys!: HostKeys;
  readonly operatorKeyPath: string;
  readonly knownHostsPath: string;
  readonly upperDir: string;
  readonly stateDir: string;
  readonly bootTimesMs: number[] = [];
  bootId = "";
  state = "";
  private readonly setup: MachineSetup;
  private readonly record: MachineRecord;
  private childExit: Promise<void> = Promise.resolve();
  private pid1Id: ProcId | undefined;
  private bootCount = 0;
  private stopped = false;

  constructor(setup: MachineSetup) {
    checkHostName(setup.name);
    this.setup = setup;
    this.name = setup.name;
    this.address = setup.address;
    this.port = setup.sshPort;
    this.operatorKeyPath = setup.operatorKeyPath;
    this.stateDir = setup.stateDir;
    this.upperDir = join(setup.stateDir, "upper");
    this.knownHostsPath = join(setup.stateDir, "known_hosts");
    this.record = {
      id: `${setup.run}.${setup.name}`,
      name: setup.name,
      run: setup.run,
      owner: procId(process.pid)!,
      address: setup.address,
      stateDir: setup.stateDir,
      cgroup: setup.cgroup,
      keep: setup.keep,
    };
  }

  get pid1(): number {
    if (!this.pid1Id || !isAlive(this.pid1Id)) throw new Error(`test host ${this.name} is not running`);
    return this.pid1Id.pid;
  }

  get rootDir(): string {
    return `/proc/${this.pid1}/root`;
  }

  isRunning(): boolean {
    return isAlive(this.pid1Id);
  }

  /** First boot: the disk's per-machine files, then boot. */
  async create(opts: BootOptions): Promise<void> {
    saveRecord(this.record); // registered before anything exists, so a crash is reaped
    liveMachines.add(this);
    for (const d of ["upper", "work", "root"]) mkdirSync(join(this.stateDir, d), { recursive: true, mode: 0o755 });
    await this.provision();
    await this.boot(opts);
  }

  /** Files a fresh machine needs before its first boot, written into the upper dir. */
  private async provision(): Promise<void> {
    const up = this.upperDir;
    this.hostKeys = await makeHostKeys(up, this.name);
    trace(this.name, "host keys made");
    mkdirSync(join(up, "etc/ssh/sshd_config.d"), { recursive: true, mode: 0o755 });
    writeFileSync(join(up, "etc/ssh/sshd_config.d/20-listen.conf"), `ListenAddress ${this.address}:${this.port}\n`);
    writeFileSync(join(up, "etc/hostname"), `${this.name}\n`);
    writeFileSync(join(up, "etc/hosts"), `127.0.0.1 localhost\n${this.address} ${this.name}\n`);
    writeFileSync(join(up, "etc/machine-id"), `${randomBytes(16).toString("hex")}\n`, { mode: 0o444 });
    mkdirSync(join(up, "root/.ssh"), { recursive: true, mode: 0o700 });
    writeFileSync(join(up, "root/.ssh/authorized_keys"), `${publicKeyLine(this.operatorKeyPath)}\n`, { mode: 0o600 });
    writeFileSync(
      this.knownHostsPath,
      `${this.knownHostsName()} ${this.hostKeys.ed25519Pub}\n${this.knownHostsName()} ${this.hostKeys.rsaPub}\n`,
    );
  }

  /** Starts the namespaces and waits until systemd says the machine is ready. */
  private async boot(opts: BootOptions): Promise<void> {
    const t0 = performance.now();
    const n = ++this.bootCount;
    this.bootId = randomUUID();
    writeFileSync(join(this.stateDir, "boot_id"), `${this.bootId}\n`);
    writeFileSync(join(this.stateDir, "console.log"), "");
    const logPath = join(this.stateDir, `boot-${n}.log`);
    const log = openSync(logPath, "w");
    const args = [
      // If the test process dies, so does the machine (unless detached for debugging).
      ...(this.setup.detach ? [] : ["--pdeathsig", "KILL"]), "--",
      "unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--propagation", "private", "--kill-child",
      "--", "/bin/bash", "-c", BOOT_SCRIPT, "nixseal-boot",
      this.setup.baseImage, this.stateDir, this.setup.cgroup, realpathSync(process.execPath), this.setup.projectRoot,
    ];
    const child = spawn("setpriv", args, {
      detached: true, // its own session: no terminal signals from the test runner
      stdio: ["ignore", log, log],
      env: { PATH: SYSTEM_PATH, LANG: "C.UTF-8" },
    });
    closeSync(log);
    child.unref(); // a forgotten machine must not keep the test process alive
    let exited = false;
    this.childExit = new Promise((resolve) => {
      child.once("exit", () => {
        exited = true;
        resolve();
      });
      child.once("error", () => {
        exited = true;
        resolve();
      });
    });
    const bootLog = () => readFileSync(logPath, "utf8").trim().slice(-2000);
    const fail = (why: string) => new StopWaiting(`test host ${this.name} ${why}\nboot log (${logPath}):\n${bootLog()}`);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    try {
      const unshare = await waitFor(() => {
        if (exited) throw fail("ended during boot");
        return child.pid === undefined ? undefined : procId(child.pid);
      }, { timeoutMs: left(), what: `test host ${this.name}'s boot process` });
      trace(this.name, "boot process started");
      this.record.boot = unshare;
      saveRecord(this.record);
      // PID 1 is unshare's child; it becomes systemd after the boot script's last exec.
      this.pid1Id = await waitFor(() => {
        if (exited) throw fail("ended during boot");
        const pid = childrenOf(unshare.pid)[0];
        if (pid === undefined) return undefined;
        const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        return comm === "systemd" ? procId(pid) : undefined;
      }, { timeoutMs: left(), what: `test host ${this.name}'s systemd to start` });
      trace(this.name, "systemd started");
      this.record.pid1 = this.pid1Id;
      saveRecord(this.record);
      this.state = await waitFor(async () => {
        if (exited) throw fail("ended during boot");
        const r = await this.execArgv(["systemctl", "is-system-running", "--wait"], { check: false, timeoutMs: left() });
        const s = r.stdout.toString("utf8").trim();
        return s === "running" || s === "degraded" ? s : undefined; // "offline": bus not up yet
      }, { timeoutMs: left(), what: `test host ${this.name} to be ready (systemctl is-system-running)` });
    } catch (e) {
      if (e instanceof StopWaiting) throw new Error(e.message);
      throw new Error(`${(e as Error).message}\nboot log (${logPath}):\n${bootLog()}`);
    }
    trace(this.name, `ready: ${this.state}`);
    if (this.state === "degraded" && !opts.allowDegraded) {
      const failed = await this.exec("systemctl --failed --plain --no-legend", { check: false });
      throw new Error(
        `test host ${this.name} booted degraded; failed units:\n${failed.stdout.trim()}\n` +
          `hint: see them with: nsenter -t ${this.pid1} -m -u -i -p -r -w journalctl -b -u UNIT; ` +
          "pass { allowDegraded: true } if the test expects a failing unit",
      );
    }
    this.bootTimesMs.push(Math.round(performance.now() - t0));
  }

  /** Waits for the current boot's namespace to end, then clears what the boot left. */
  private async waitEnded(timeoutMs: number, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`test host ${this.name} did not ${what} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.childExit, timeout]);
    } finally {
      clearTimeout(timer);
    }
    this.pid1Id = undefined;
    // The cgroups systemd made empty out as the kernel reaps the namespace.
    await waitFor(() => {
      removeCgroup(this.setup.cgroup);
      return true;
    }, { timeoutMs: 10_000, what: `test host ${this.name}'s cgroup to empty` });
  }

  async reboot(opts: BootOptions = {}): Promise<void> {
    this.assertUsable();
    // --no-block: the answer would race with the namespace going away.
    await this.exec("systemctl --no-block reboot");
    await this.waitEnded(opts.timeoutMs ?? 60_000, "shut down after systemctl reboot");
    await this.boot(opts);
  }

  async followReboot(opts: BootOptions = {}): Promise<void> {
    this.assertUsable();
    await this.waitEnded(opts.timeoutMs ?? 120_000, "reboot itself");
    await this.boot(opts);
  }

  async powerCut(opts: BootOptions = {}): Promise<void> {
    this.assertUsable();
    signalIfSame(this.pid1Id, "SIGKILL");
    await this.waitEnded(15_000, "end after SIGKILL to PID 1");
    await this.boot(opts);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    liveMachines.delete(this);
    await reapMachine(this.record);
  }

  /** Synchronous last resort for process exit: kill, leave the rest to the reaper. */
  killNow(): void {
    if (this.setup.detach) return;
    try {
      writeFileSync(join(this.setup.cgroup, "cgroup.kill"), "1");
    } catch {
      // not booted
    }
    signalIfSame(this.record.pid1, "SIGKILL");
    signalIfSame(this.record.boot, "SIGKILL");
  }

  private assertUsable(): void {
    if (this.stopped) throw new Error(`test host ${this.name} was stopped`);
    if (!this.isRunning()) throw new Error(`test host ${this.name} is not running`);
  }

  async execArgv(argv: string[], opts: ExecOptions = {}): Promise<RawResult> {
    const r = await run(["nsenter", "-t", String(this.pid1), "-m", "-u", "-i", "-p", "-r", "-w", "--", ...argv], {
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 120_000,
      env: { PATH: SYSTEM_PATH, LANG: "C.UTF-8", HOME: "/root", TERM: "dumb" },
    });
    if ((opts.check ?? true) && r.code !== 0) {
      throw new Error(
        `test host ${this.name}: ${JSON.stringify(argv.join(" ")).slice(0, 300)} exited ${r.code}: ` +
          r.stderr.toString("utf8").trim().slice(-2000),
      );
    }
    return r;
  }

  async exec(cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return text(await this.execArgv(["/bin/sh", "-c", cmd], opts));
  }

  sshArgs(knownHostsPath = this.knownHostsPath): string[] {
    return [
      "ssh", "-F", "/dev/null", "-i", this.operatorKeyPath, "-p", String(this.port),
      "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${knownHostsPath}`, "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", `root@${this.address}`,
    ];
  }

  async ssh(cmd: string, opts: ExecOptions & { knownHostKeys?: string[] } = {}): Promise<ExecResult> {
    let known = this.knownHostsPath;
    if (opts.knownHostKeys) {
      known = join(this.stateDir, `known_hosts.${randomUUID()}`);
      writeFileSync(known, opts.knownHostKeys.map((k) => `${this.knownHostsName()} ${k}\n`).join(""));
    }
    try {
      const r = text(await run([...this.sshArgs(known), cmd], {
        input: opts.input,
        timeoutMs: opts.timeoutMs ?? 120_000,
        env: { PATH: SYSTEM_PATH, LANG: "C.UTF-8", HOME: "/root" },
      }));
      if ((opts.check ?? true) && r.code !== 0) {
        throw new Error(`test host ${this.name}: ssh ${JSON.stringify(cmd).slice(0, 300)} exited ${r.code}: ${r.stderr.trim().slice(-2000)}`);
      }
      return r;
    } finally {
      if (known !== this.knownHostsPath) rmSync(known, { force: true });
    }
  }

  /** How known_hosts names this machine: "127.0.1.N", or "[127.0.1.N]:PORT" off port 22. */
  knownHostsName(): string {
    return this.port === 22 ? this.address : `[${this.address}]:${this.port}`;
  }

  async writeFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
    // Data on stdin; written to a temp name and renamed, so readers never see half a file.
    await this.execArgv(
      ["/bin/sh", "-c", 'set -e; mkdir -p "$(dirname "$1")"; t="$1.tmp.$$"; (umask 077; cat >"$t"); chmod "$2" "$t"; mv -f "$t" "$1"', "write", path, mode.toString(8)],
      { input: data },
    );
  }

  async readFile(path: string): Promise<Buffer> {
    return (await this.execArgv(["cat", "--", path])).stdout;
  }

  waitFor<T>(cond: () => T | Promise<T>, timeoutMs = 30_000, what?: string): Promise<Truthy<T>> {
    const o: WaitOptions = { timeoutMs, what: what ?? `a condition on test host ${this.name}` };
    return waitFor(cond, o);
  }
}

function text(r: RawResult): ExecResult {
  return { stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8"), code: r.code };
}

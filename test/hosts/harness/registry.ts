// The registry of machines and address leases, kept as small files under
// /run/nixseal-testhosts so that any later process (vitest's globalSetup/teardown, a
// developer's `node dist/test/hosts/harness/reap.js`) can find and remove what a killed
// test process left: processes, cgroups, state dirs, leases.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { isAlive, procId, run, signalIfSame, type ProcId } from "./proc.js";
import { registryRoot, stateRoot } from "./paths.js";
import { waitFor } from "./wait.js";

/** One machine as the registry knows it. */
export interface MachineRecord {
  /** `<run>.<name>`: unique on the box. */
  id: string;
  name: string;
  run: string;
  /** The process that booted it; when it is gone the machine is an orphan. */
  owner: ProcId;
  address: string;
  stateDir: string;
  /** The machine's cgroup (cgroup v2) directory. */
  cgroup: string;
  /** The `unshare` process of the current boot, while one runs. */
  boot?: ProcId;
  /** The machine's PID 1 (systemd) of the current boot, once started. */
  pid1?: ProcId;
  /** Leave the state dir on disk when reaped (NIXSEAL_TESTHOST_KEEP=1). */
  keep?: boolean;
}

const machinesDir = () => join(registryRoot(), "machines");
const leasesDir = () => join(registryRoot(), "addresses");

/** The base of cgroup v2 on this box: pure v2, or the "unified" part of a hybrid setup. */
export function cgroupRoot(): string {
  for (const dir of ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]) {
    if (existsSync(join(dir, "cgroup.controllers"))) return dir;
  }
  throw new Error(
    "test hosts: no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified; " +
      "systemd inside a test host needs one (boot the box with cgroup v2 or hybrid cgroups)",
  );
}

/** Parent cgroup of all test machines. */
export function machinesCgroup(): string {
  return join(cgroupRoot(), "nixseal-testhosts");
}

/** Writes (or replaces) a machine's record atomically. */
export function saveRecord(rec: MachineRecord): void {
  mkdirSync(machinesDir(), { recursive: true, mode: 0o700 });
  const file = join(machinesDir(), `${rec.id}.json`);
  writeFileSync(`${file}.tmp-${process.pid}`, JSON.stringify(rec, null, 2));
  renameSync(`${file}.tmp-${process.pid}`, file);
}

/** Drops a machine's record. */
export function dropRecord(id: string): void {
  rmSync(join(machinesDir(), `${id}.json`), { force: true });
}

/** All machine records on the box (from every run). */
export function listRecords(): MachineRecord[] {
  let names: string[];
  try {
    names = readdirSync(machinesDir());
  } catch {
    return [];
  }
  const out: MachineRecord[] = [];
  for (const n of names) {
    if (!n.endsWith(".json")) continue;
    try {
      out.push(JSON.parse(readFileSync(join(machinesDir(), n), "utf8")) as MachineRecord);
    } catch {
      // a torn record cannot exist (rename), but a hand-edited one might: skip it
    }
  }
  return out;
}

/** The address pool: 127.0.1.2 .. 127.0.1.254 (127.0.1.1 is often the box's own name). */
function* candidateAddresses(): Generator<string> {
  for (let n = 2; n <= 254; n++) yield `127.0.1.${n}`;
}

/** True when something already accepts connections on address:port. */
function portTaken(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(500, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/**
 * Leases a free 127.0.1.N for machine `id`. The lease is a file created with O_EXCL, so
 * parallel test files and parallel runs never get the same address.
 */
export async function leaseAddress(id: string, owner: ProcId, port: number): Promise<string> {
  mkdirSync(leasesDir(), { recursive: true, mode: 0o700 });
  for (const address of candidateAddresses()) {
    const file = join(leasesDir(), address);
    let fd: number;
    try {
      fd = openSync(file, "wx", 0o600);
    } catch {
      continue; // leased by someone else (stale leases are reaped, never stolen)
    }
    writeSync(fd, JSON.stringify({ id, owner }));
    closeSync(fd);
    if (await portTaken(address, port)) {
      rmSync(file, { force: true }); // a listener we do not know: leave that address alone
      continue;
    }
    return address;
  }
  throw new Error(
    "test hosts: all 253 addresses 127.0.1.2-254 are leased; " +
      "run `node dist/test/hosts/harness/reap.js` to remove leftovers of killed runs",
  );
}

/** Returns a lease, if it still belongs to machine `id`. */
export function releaseAddress(address: string, id: string): void {
  const file = join(leasesDir(), address);
  try {
    if ((JSON.parse(readFileSync(file, "utf8")) as { id: string }).id === id) rmSync(file);
  } catch {
    // already gone
  }
}

/** Kills every process of a machine and waits until none is left. */
export async function killMachine(rec: MachineRecord): Promise<void> {
  // cgroup.kill (kernel >= 5.14) reaches every process systemd started in the machine,
  // PID 1 included; its death makes the kernel kill the rest of the PID namespace, and
  // unshare, having reaped it, exits. SIGKILL to unshare is the fallback (--kill-child
  // passes it on to PID 1) for a machine whose cgroup was never made.
  try {
    writeFileSync(join(rec.cgroup, "cgroup.kill"), "1");
  } catch {
    // no cgroup (never booted, or already removed)
  }
  signalIfSame(rec.pid1, "SIGKILL");
  try {
    await waitFor(() => !isAlive(rec.boot), { timeoutMs: 5_000, intervalMs: 20 });
  } catch {
    signalIfSame(rec.boot, "SIGKILL");
  }
  await waitFor(() => !isAlive(rec.boot) && !isAlive(rec.pid1) && cgroupProcs(rec.cgroup).length === 0, {
    timeoutMs: 15_000,
    what: `test host ${rec.name}'s processes to end`,
  });
}

/** The pids in a cgroup subtree. */
export function cgroupProcs(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name === "cgroup.procs") {
        try {
          for (const p of readFileSync(join(d, e.name), "utf8").split("\n")) if (p) pids.push(Number(p));
        } catch {
          // removed meanwhile
        }
      }
    }
  };
  walk(dir);
  return pids;
}

/** Removes an empty cgroup subtree (children first). */
export function removeCgroup(dir: string): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) removeCgroup(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

/** Mount points in this mount namespace that lie under `dir`. */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4];
    if (mp && (mp === dir || mp.startsWith(`${dir}/`))) out.push(mp.replace(/\\040/g, " "));
  }
  return out;
}

/**
 * Removes everything of one machine: processes, cgroup, stray mounts, state dir (unless
 * kept), address lease, record.
 */
export async function reapMachine(rec: MachineRecord): Promise<void> {
  await killMachine(rec);
  removeCgroup(rec.cgroup);
  // Machines mount only inside their own namespace, which died with them; anything
  // visible here under the state dir is a bug elsewhere, removed all the same.
  for (const mp of mountsUnder(rec.stateDir).reverse()) await run(["umount", "-l", mp]);
  if (rec.keep) writeFileSync(join(rec.stateDir, "..", "KEEP"), "");
  else rmSync(rec.stateDir, { recursive: true, force: true });
  releaseAddress(rec.address, rec.id);
  dropRecord(rec.id);
}

/**
 * Removes machines whose owner process or run is gone (or all machines of `run`), stale
 * address leases, and run dirs nobody uses any more. Safe while other runs are active:
 * it never touches a machine whose owner still runs unless asked for its run.
 *
 * @returns the ids of the machines it removed
 */
export async function reapStale(opts: { run?: string } = {}): Promise<string[]> {
  // Orphans: the process that booted them is gone, or the run it belongs to is (vitest's
  // worker processes can outlive a killed main process for a while).
  const doomed = listRecords().filter(
    (rec) => rec.run === opts.run || !isAlive(rec.owner) || !isAlive(readOwner(dirname(rec.stateDir))),
  );
  await Promise.all(doomed.map((rec) => reapMachine(rec)));
  const reaped = doomed.map((rec) => rec.id);
  const live = listRecords();
  // Leases of owners that are gone and that no record names.
  let leases: string[] = [];
  try {
    leases = readdirSync(leasesDir());
  } catch {
    // none yet
  }
  for (const address of leases) {
    const file = join(leasesDir(), address);
    try {
      const lease = JSON.parse(readFileSync(file, "utf8")) as { id: string; owner: ProcId };
      if (!isAlive(lease.owner) && !live.some((r) => r.id === lease.id)) rmSync(file);
    } catch {
      rmSync(file, { force: true });
    }
  }
  // Run dirs whose creator is gone and that hold no live machine.
  let runs: string[] = [];
  try {
    runs = readdirSync(stateRoot());
  } catch {
    // none yet
  }
  for (const r of runs) {
    const dir = join(stateRoot(), r);
    if (live.some((m) => m.run === r)) continue;
    if (r !== opts.run && isAlive(readOwner(dir))) continue;
    if (existsSync(join(dir, "KEEP"))) continue; // a developer asked to keep the disks
    rmSync(dir, { recursive: true, force: true });
  }
  if (live.length === 0) {
    try {
      rmdirSync(machinesCgroup());
    } catch {
      // absent, or another machine appeared meanwhile
    }
  }
  return reaped;
}

/** The process that created a run dir (owner.json), if recorded. */
export function readOwner(dir: string): ProcId | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "owner.json"), "utf8")) as ProcId;
  } catch {
    return undefined;
  }
}

/**
 * Creates a run dir owned by this process. An existing one keeps its owner while that
 * process lives (vitest's main process for all its workers); a dead owner is replaced, so a
 * reused run id does not make this process's machines look orphaned.
 */
export function ensureRunDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, "owner.json");
  const me = procId(process.pid)!;
  try {
    const fd = openSync(file, "wx", 0o600);
    writeSync(fd, JSON.stringify(me));
    closeSync(fd);
    return;
  } catch {
    // exists
  }
  if (isAlive(readOwner(dir))) return;
  writeFileSync(`${file}.tmp-${process.pid}`, JSON.stringify(me), { mode: 0o600 });
  renameSync(`${file}.tmp-${process.pid}`, file);
}

/** True if `path` exists and is a directory. */
export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Test hosts: real systemd machines on one box, for tests that need real sshd, real
 * reboots and real power cuts. Usage and internals: test/README.md.
 *
 * ```ts
 * const a = await bootHost("a");
 * await a.exec("systemctl enable --now foo.service");
 * await a.reboot();
 * await a.stop();
 * ```
 *
 * Needs root, debootstrap (first build of the base image) and cgroup v2 (pure or hybrid).
 * No vitest imports here: the README demo runs this from dist/ too.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ensureBaseImage } from "./image.js";
import { ensureOperatorKey } from "./keys.js";
import { assertRoot, ensureKernelLimits } from "./limits.js";
import { chooseSshPort } from "./ssh-port.js";
import { trace } from "./trace.js";
import { checkHostName, liveMachines, Machine, type HostOptions, type TestHost } from "./machine.js";
import { projectRoot, runDir, runId } from "./paths.js";
import { isAlive, procId } from "./proc.js";
import { ensureRunDir, readOwner, leaseAddress, listRecords, machinesCgroup, reapMachine, releaseAddress } from "./registry.js";

export type { BootOptions, HostOptions, ExecOptions, ExecResult, TestHost } from "./machine.js";
export type { HostKeys } from "./keys.js";
export { ensureBaseImage } from "./image.js";
export { reapAll } from "./reap.js";
export { reapStale, listRecords, mountsUnder, cgroupProcs, machinesCgroup } from "./registry.js";
export { waitFor, type Truthy, type WaitOptions } from "./wait.js";
export { runId, runDir, stateRoot, registryRoot } from "./paths.js";

/**
 * Boots a fresh machine called `name` (unique within the run): its own disk (an overlay
 * on the cached base image), host keys, machine id and 127.0.1.N; ready when systemd says
 * `running`. Throws (and leaves nothing behind) when it does not get there.
 */
export async function bootHost(name: string, opts: HostOptions = {}): Promise<TestHost> {
  checkHostName(name);
  assertRoot();
  trace(name, "bootHost called");
  ensureKernelLimits();
  const baseImage = await ensureBaseImage();
  trace(name, "base image ready");
  const run = runId();
  const dir = runDir(run);
  ensureRunDir(dir);
  watchRunOwner(dir);
  const operatorKeyPath = await ensureOperatorKey(dir);
  trace(name, "operator key ready");
  const id = `${run}.${name}`;
  if (booting.has(id)) throw new Error(`test host "${name}" is already being booted by this process; pick another name`);
  booting.add(id);
  try {
    return await bootNew(name, id, run, dir, baseImage, operatorKeyPath, opts);
  } finally {
    booting.delete(id);
  }
}

const booting = new Set<string>();

async function bootNew(
  name: string,
  id: string,
  run: string,
  dir: string,
  baseImage: string,
  operatorKeyPath: string,
  opts: HostOptions,
): Promise<TestHost> {
  const existing = listRecords().find((r) => r.id === id);
  if (existing) {
    if (isAlive(existing.owner)) {
      throw new Error(`test host "${name}" already runs in this run (${id}); stop it first or pick another name`);
    }
    await reapMachine(existing);
  }
  const sshPort = opts.sshPort ?? chooseSshPort();
  const address = await leaseAddress(id, procId(process.pid)!, sshPort);
  trace(name, `leased ${address}`);
  const machine = new Machine({
    name,
    run,
    address,
    sshPort,
    stateDir: join(dir, name),
    cgroup: join(machinesCgroup(), id),
    baseImage,
    operatorKeyPath,
    projectRoot: projectRoot(),
    keep: process.env.NIXSEAL_TESTHOST_KEEP === "1",
    detach: process.env.NIXSEAL_TESTHOST_DETACH === "1",
  });
  try {
    await machine.create(opts);
  } catch (e) {
    await machine.stop().catch(() => {});
    releaseAddress(address, id);
    throw e;
  }
  return machine;
}

/** Stops every machine this process booted and has not stopped yet. */
export async function stopAll(): Promise<void> {
  const errors: unknown[] = [];
  await Promise.all([...liveMachines].map((m) => m.stop().catch((e: unknown) => errors.push(e))));
  if (errors.length) throw errors[0];
}

let watching = false;

/**
 * A vitest worker can outlive its killed main process for a while; its machines must not.
 * Polls the run's owner (vitest's main process, from the run dir) and kills this process's
 * machines when it is gone. The timer never keeps the process alive.
 */
function watchRunOwner(dir: string): void {
  if (watching) return;
  const owner = readOwner(dir);
  if (!owner || owner.pid === process.pid) return;
  watching = true;
  setInterval(() => {
    if (!isAlive(owner)) for (const m of liveMachines) m.killNow();
  }, 1000).unref();
}

// Last resort when a test process exits with machines still up (a test forgot stop(), or
// an exception escaped): kill them now; globalTeardown / reapStale removes the rest.
// A process that used the harness alone (no vitest run around it) owns its run dir: remove
// it when nothing of the run is left, so a demo or bench leaves no operator key behind.
process.once("exit", () => {
  for (const m of liveMachines) m.killNow();
  const run = runId();
  if (liveMachines.size === 0 && readOwner(runDir(run))?.pid === process.pid && !listRecords().some((r) => r.run === run)) {
    rmSync(runDir(run), { recursive: true, force: true });
  }
});

// stateDir/status.json: the last run and each secret's last result (codes and
// messages, never values), so `nixseal-agent status` works without the API and the
// API can answer across restarts.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { LastRun } from "../../core/agent-api.js";
import type { SecretResult } from "../plaintext/materialize.js";

/** The last boot restore, for `nixseal-agent verify`: which boot, and when it finished. */
interface BootRecord {
  /** /proc/sys/kernel/random/boot_id of the boot it ran in. */
  bootId: string | null;
  /** $INVOCATION_ID systemd gave the run (nixseal-restore.service), null outside systemd. */
  invocationId: string | null;
  generation: number | null;
  ok: boolean;
  failed: number;
  durationMs: number;
  /** CLOCK_MONOTONIC (systemd's *TimestampMonotonic clock) in µs when it finished. */
  finishedMonotonicUs: number;
}

interface StateFile {
  lastRun?: LastRun;
  boot?: BootRecord;
  results: Record<string, SecretResult & { generation: number; at: string }>;
  activations: { ok: number; failed: number };
}

const FILE = "status.json";

/** Reads status.json; an absent or damaged one is an empty record. */
export function readStateFile(stateDir: string): StateFile {
  try {
    const s = JSON.parse(readFileSync(join(stateDir, FILE), "utf8")) as StateFile;
    return { results: s.results ?? {}, lastRun: s.lastRun, boot: s.boot, activations: s.activations ?? { ok: 0, failed: 0 } };
  } catch {
    return { results: {}, activations: { ok: 0, failed: 0 } };
  }
}

/** This boot's id, or null where the kernel does not say. */
export function currentBootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return null;
  }
}

/** CLOCK_MONOTONIC now, in µs (process.hrtime reads that clock on Linux). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Records one run: replaces the per-secret results with this run's when it ran any;
 * a boot restore also replaces the boot record. A boot restore's record is not
 * fsynced: the services wait for the restore to end, and a record lost to a power cut
 * is rewritten by the next boot.
 */
export async function recordRun(stateDir: string, run: LastRun, results: SecretResult[] | undefined, boot?: BootRecord): Promise<void> {
  const s = readStateFile(stateDir);
  s.lastRun = run;
  if (boot) s.boot = boot;
  if (run.ok) s.activations.ok++;
  else s.activations.failed++;
  if (results) {
    s.results = {};
    for (const r of results) s.results[r.name] = { ...r, generation: run.generation ?? 0, at: run.at };
  }
  // compact: with a thousand secrets, indentation doubles the bytes written at each boot
  writeSyncAtomic(join(stateDir, FILE), JSON.stringify(s) + "\n", boot === undefined);
}

// core's writeFileAtomic, done with sync calls: core/fs.js loads node:fs/promises and
// node:os, which the boot restore otherwise never needs.
function writeSyncAtomic(file: string, text: string, durable: boolean): void {
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, text);
    if (durable) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

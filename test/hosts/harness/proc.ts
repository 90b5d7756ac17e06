// Small process helpers for the test-host harness: run a command to completion, and
// identify a process by pid + start time so a recycled pid is never mistaken for ours.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/** What a finished command returns; buffers so binary files survive. */
export interface RawResult {
  stdout: Buffer;
  stderr: Buffer;
  /** Exit code, or 128 + signal number when killed by a signal. */
  code: number;
}

export interface RunOptions {
  /** Bytes written to the command's stdin (secrets go here, never in argv). */
  input?: string | Buffer;
  /** Environment for the command; defaults to a minimal one (no box secrets leak in). */
  env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGKILL) after this many ms. */
  timeoutMs?: number;
}

/** A PATH that works inside the bookworm image and on the box. */
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Runs argv to completion and collects its output. Never rejects on a non-zero exit. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: opts.env ?? { PATH: SYSTEM_PATH, LANG: "C.UTF-8", HOME: "/root" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs);
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    // A command may leave a background process holding our stdout/stderr open (`exec("d &")`):
    // once the command itself exited, give the pipes a moment to drain, then stop waiting.
    child.on("exit", () => {
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 1000).unref();
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const stderr = Buffer.concat(err);
      resolve({
        stdout: Buffer.concat(out),
        stderr: timedOut
          ? Buffer.concat([stderr, Buffer.from(`\n(killed after ${opts.timeoutMs} ms)\n`)])
          : stderr,
        code: code ?? 128 + (SIGNALS[signal ?? ""] ?? 0),
      });
    });
    // A command that exits before reading stdin makes this EPIPE; the exit code tells.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs argv and returns its stdout as text; throws with stderr when it fails. */
export async function runOk(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(
      `${argv.join(" ")} exited ${r.code}: ${r.stderr.toString("utf8").trim().slice(-2000)}`,
    );
  }
  return r.stdout.toString("utf8");
}

/** A process's identity: its pid and its start time in clock ticks since boot. */
export interface ProcId {
  pid: number;
  start: number;
}

/** The start time of `pid` (field 22 of /proc/PID/stat), or undefined if it is gone. */
export function startTimeOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may hold spaces and parentheses: split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** The identity of a live process, or undefined if it is gone. */
export function procId(pid: number): ProcId | undefined {
  const start = startTimeOf(pid);
  return start === undefined ? undefined : { pid, start };
}

/** True while the very process `id` names runs (a zombie counts as gone). */
export function isAlive(id: ProcId | undefined): boolean {
  if (!id) return false;
  if (startTimeOf(id.pid) !== id.start) return false;
  try {
    const stat = readFileSync(`/proc/${id.pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Sends `signal` to the process only if it still is the one `id` names. */
export function signalIfSame(id: ProcId | undefined, signal: NodeJS.Signals): boolean {
  if (!isAlive(id)) return false;
  try {
    process.kill(id!.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The pids of the direct children of `pid` (all its threads), from procfs. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

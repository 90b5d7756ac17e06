// One agent operation at a time across processes (the API service, a person running
// `nixseal-agent import`, the boot restore): an O_EXCL lock file holding the owner's
// pid and start time, on the run tmpfs so a power cut never leaves a stale lock behind.
// A lock whose process is gone (SIGKILL) is taken over, also when its pid was reused.
import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { errors } from "../errors.js";

const LOCK = ".lock";

/** Start time of a process in clock ticks since boot (/proc/PID/stat field 22). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** The lock owner still runs: same pid and the same start time. */
function alive(owner: string): boolean {
  const [pid, start] = owner.trim().split(" ");
  if (!pid || !/^[0-9]+$/.test(pid) || Number(pid) === process.pid) return false;
  return start !== undefined && startTime(Number(pid)) === start;
}

/**
 * Takes the agent lock in runDir.
 *
 * @returns a release function
 * @throws AgentError busy when a live process holds it
 */
export function acquireLock(runDir: string): () => void {
  const file = join(runDir, LOCK);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      writeSync(fd, `${process.pid} ${startTime(process.pid) ?? "?"}`);
      closeSync(fd);
      return () => {
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let owner: string;
      try {
        owner = readFileSync(file, "utf8");
      } catch {
        continue; // released meanwhile
      }
      if (alive(owner)) throw errors.busy([owner.split(" ")[0]!]);
      try {
        unlinkSync(file); // stale: its owner died
      } catch {
        // someone else cleaned it
      }
    }
  }
  throw errors.busy(["unknown"]);
}

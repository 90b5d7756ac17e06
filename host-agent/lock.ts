// One agent operation at a time across processes (the API service, a person running
// `nixseal-agent import`, the boot restore): an O_EXCL lock file holding the owner's
// pid, on the run tmpfs so a power cut never leaves a stale lock behind. A lock whose
// process is gone (SIGKILL) is taken over.
import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { errors } from "./errors.js";

const LOCK = ".lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
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
      writeSync(fd, String(process.pid));
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
      let pid = NaN;
      try {
        pid = Number(readFileSync(file, "utf8"));
      } catch {
        continue; // released meanwhile
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw errors.busy([pid]);
      try {
        unlinkSync(file); // stale: its owner died
      } catch {
        // someone else cleaned it
      }
    }
  }
  throw errors.busy(["unknown"]);
}

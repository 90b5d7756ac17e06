// Process facts: whether a process still exists (for locks and leftovers that record
// their owner's pid), and keeping this one's memory out of core dumps.
import { writeFileSync } from "node:fs";

/**
 * Whether a process with this pid exists on this machine (signal 0 probes without
 * sending anything). A process of another user counts as alive.
 *
 * @param pid - the process id
 * @returns true when it exists
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Keeps this process's memory out of any core dump it may write: sets
 * /proc/self/coredump_filter to 0, so a crash dumps no mapping (no heap, no stack)
 * whatever RLIMIT_CORE and the box's core_pattern say, also when the dump goes to a
 * pipe (systemd-coredump, apport), which ignores RLIMIT_CORE. Node can call neither
 * prctl(PR_SET_DUMPABLE) nor setrlimit(RLIMIT_CORE); the units add LimitCORE=0.
 * Threads share it; child processes inherit it. Costs one small write.
 *
 * @returns true when the filter was set (false where /proc is missing or read-only)
 */
export function keepMemoryOutOfCoreDumps(): boolean {
  try {
    writeFileSync("/proc/self/coredump_filter", "0");
    return true;
  } catch {
    return false;
  }
}

// Whether a process still exists, for locks and leftovers that record their owner's pid.

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

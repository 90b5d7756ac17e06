// Kernel limits shared by every machine on the box. All machines run as the box's root, so
// they share root's inotify instances (systemd, journald, logind and dbus take about five
// per machine); Debian's default of 128 runs out at about 20 machines, and systemd then
// fails units at boot ("degraded"). Raised once, never lowered.
import { readFileSync, writeFileSync } from "node:fs";

const MINIMUMS: Record<string, number> = {
  "/proc/sys/fs/inotify/max_user_instances": 1024,
};

let done = false;

/** Test machines need root (namespaces, mounts, cgroups); say so plainly. */
export function assertRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "test hosts need root (namespaces, overlay mounts, cgroups): run the machine tests as root, " +
        "e.g. `sudo npm run test:hosts`, or only the unit tests with `npm run test:unit`",
    );
  }
}

/** Raises the box's limits that test machines share to what many machines need. */
export function ensureKernelLimits(): void {
  if (done) return;
  for (const [file, min] of Object.entries(MINIMUMS)) {
    try {
      if (Number(readFileSync(file, "utf8").trim()) < min) writeFileSync(file, String(min));
    } catch (e) {
      // A read-only /proc/sys (a container): a few machines still boot; many may degrade.
      process.stderr.write(`test hosts: warning: cannot raise ${file} to ${min}: ${(e as Error).message}\n`);
    }
  }
  done = true;
}

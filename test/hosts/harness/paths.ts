// Where the harness keeps things. Every location can be moved with an environment
// variable (documented in test/README.md).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTimeOf } from "./proc.js";

/**
 * The project root: the nearest directory above this file whose package.json is
 * nixseal's. Works from test/hosts/harness (vitest) and dist/test/hosts/harness (tsc),
 * in whatever clone the code runs from. NIXSEAL_TESTHOST_PROJECT overrides it (for a
 * harness copy compiled elsewhere).
 */
export function projectRoot(): string {
  const fromEnv = process.env.NIXSEAL_TESTHOST_PROJECT;
  if (fromEnv) return fromEnv;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, "utf8")).name === "nixseal") return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error("test hosts: cannot find nixseal's package.json above the harness");
    dir = up;
  }
}

/** Root of per-run machine state (upper/work dirs, keys, logs); on disk, not tmpfs. */
export function stateRoot(): string {
  return process.env.NIXSEAL_TESTHOST_STATE ?? "/var/tmp/nixseal-testhosts";
}

/** The registry of live machines and address leases; a tmpfs on a real box. */
export function registryRoot(): string {
  return process.env.NIXSEAL_TESTHOST_REGISTRY ?? "/run/nixseal-testhosts";
}

/** The script that builds (or finds) the cached base image. */
export function buildScript(): string {
  return join(projectRoot(), "test/hosts/image/build-base.sh");
}

/**
 * This run's id. vitest's globalSetup sets NIXSEAL_TESTHOST_RUN for all workers; a
 * process used alone gets its own id from its pid and start time.
 */
export function runId(): string {
  const fromEnv = process.env.NIXSEAL_TESTHOST_RUN;
  if (fromEnv && /^[A-Za-z0-9._-]+$/.test(fromEnv)) return fromEnv;
  return `p${process.pid}-${startTimeOf(process.pid) ?? 0}`;
}

/** The directory holding this run's machines and operator key. */
export function runDir(run = runId()): string {
  return join(stateRoot(), run);
}

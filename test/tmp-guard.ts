// vitest globalSetup of the whole run (both projects): every test process, and every
// child that inherits the environment, gets a private TMPDIR for this run only; at the
// end of the run anything left in it fails the run (exit code 1) with the list, and the
// directory is removed. Private, so that parallel runs on the same box (which write
// their own nixseal-* names into /tmp) are never mistaken for this run's leftovers.
// Children started with a hand-made environment must pass TMPDIR on (see
// test/hosts/fixtures/deploy-env.ts and test/cli/harness.ts).
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What is left under dir, as relative paths of its top-level entries (with a file count). */
function leftovers(dir: string): string[] {
  return readdirSync(dir).map((entry) => {
    const path = join(dir, entry);
    let files = 0;
    const walk = (p: string): void => {
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) return;
      if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
      else files++;
    };
    walk(path);
    return `${entry} (${files} file${files === 1 ? "" : "s"})`;
  });
}

export default function setup(): () => void {
  const base = tmpdir();
  const dir = mkdtempSync(join(base, "nixseal-testrun-"));
  process.env.TMPDIR = dir; // inherited by the worker processes and their children
  return () => {
    const left = leftovers(dir);
    rmSync(dir, { recursive: true, force: true });
    if (process.env.TMPDIR === dir) process.env.TMPDIR = base;
    if (left.length === 0) return;
    process.exitCode = 1; // a throw here would only be logged; this fails the run
    console.error(`\nnixseal tmp guard: this run left ${left.length} entr${left.length === 1 ? "y" : "ies"} in its temp dir (now removed):`);
    for (const l of left) console.error(`  ${l}`);
    console.error("each test must remove what it creates under os.tmpdir() (afterAll / finally)\n");
  };
}

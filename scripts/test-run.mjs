// npm test (and test:unit, test:hosts): vitest run with a private TMPDIR for the whole run,
// vitest's own files included, inherited by every worker and child. When vitest ends,
// anything left in that directory fails the run (exit 1, with the list) and is removed.
// Private, so that other runs on the same box are never taken for this run's leftovers.
// A test that starts a child with a hand-made environment passes TMPDIR on.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "nixseal-testrun-"));
const vitest = new URL("../node_modules/vitest/vitest.mjs", import.meta.url).pathname;
const child = spawn(process.execPath, [vitest, "run", ...process.argv.slice(2)], { stdio: "inherit", env: { ...process.env, TMPDIR: dir } });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));

function count(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  return st.isDirectory() ? readdirSync(path).reduce((n, e) => n + count(join(path, e)), 0) : 1;
}

child.on("exit", (code, signal) => {
  const left = readdirSync(dir).map((e) => `${e} (${count(join(dir, e))} files)`);
  rmSync(dir, { recursive: true, force: true });
  if (left.length) {
    console.error(`\nnixseal test run: ${left.length} entr${left.length === 1 ? "y" : "ies"} left in the run's temp dir (now removed):`);
    for (const l of left) console.error(`  ${l}`);
    console.error("each test must remove what it creates under os.tmpdir() (afterAll / finally); this fails the run\n");
  }
  process.exitCode = signal ? 128 + (constants.signals[signal] ?? 1) : code !== 0 ? (code ?? 1) : left.length ? 1 : 0;
});

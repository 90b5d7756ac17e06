// Removes test machines left behind by killed runs (what vitest's globalSetup does first):
//   node dist/test/hosts/harness/reap.js          machines whose test process is gone
//   node dist/test/hosts/harness/reap.js --all    every test machine on the box
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { listRecords, reapMachine, reapStale } from "./registry.js";

/**
 * Removes every test machine on the box, running or not, of any run (a developer's
 * "clean everything"; tests use reapStale, which spares machines of live processes).
 */
export async function reapAll(): Promise<number> {
  const all = listRecords();
  for (const rec of all) await reapMachine(rec);
  await reapStale();
  return all.length;
}

async function main(): Promise<void> {
  if (process.argv.includes("--all")) {
    console.log(`reaped ${await reapAll()} test machine(s)`);
  } else {
    console.log(`reaped ${(await reapStale()).length} orphaned test machine(s)`);
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) await main();

// Removes test machines left behind by killed runs (what vitest's globalSetup does first):
//   node dist/test/hosts/harness/reap.js          machines whose test process is gone
//   node dist/test/hosts/harness/reap.js --all    every test machine on the box
import { listRecords, reapMachine, reapStale } from "./registry.js";

const all = process.argv.includes("--all");
if (all) for (const rec of listRecords()) await reapMachine(rec);
const reaped = await reapStale();
console.log(`reaped ${all ? "all test machines" : `${reaped.length} orphaned test machine(s)`}`);

// `npm run bench`: every benchmark against its baseline in the same run.
// A benchmark module exports `run(): Promise<BenchResult[]>`; register it below.
// `npm run bench -- NAME…` runs only the named ones.
import { formatResult, meetsGoals, type BenchResult } from "./report.js";

type Bench = { name: string; run: () => Promise<BenchResult[]> };

const benches: Bench[] = [
  { name: "crypto", run: async () => (await import("./crypto.bench.js")).run() },
  { name: "restore", run: async () => (await import("./restore.bench.js")).run() },
  { name: "agent", run: async () => (await import("./agent.bench.js")).run() },
  { name: "deploy", run: async () => (await import("./deploy.bench.js")).run() },
  { name: "rekey", run: async () => (await import("./rekey.bench.js")).run() },
  { name: "server", run: async () => (await import("./server.bench.js")).run() },
  // one line per benchmark module, e.g.
  // { name: "crypto", run: async () => (await import("./crypto.bench.js")).run() },
];

const only = process.argv.slice(2);
const results: BenchResult[] = [];
for (const b of benches) {
  if (only.length && !only.includes(b.name)) continue;
  process.stderr.write(`bench: ${b.name}…\n`);
  for (const r of await b.run()) {
    results.push(r);
    process.stdout.write(formatResult(r) + "\n");
  }
}
const missed = results.filter((r) => !meetsGoals(r));
process.stdout.write(`bench: ${results.length} results, ${missed.length} missing their goal${missed.length ? `: ${missed.map((r) => r.name).join("; ")}` : ""}\n`);

// Bundles nixseal-agent for a fast boot. Loading ~35 ES modules one by one costs a fresh
// process ~20 ms, paid at every boot by `nixseal-agent restore`. After tsc, this puts
// every module that dist/host-agent/entry.js imports statically (the boot restore path)
// into one chunk, and leaves each other command a chunk loaded when it runs. npm
// packages and node: builtins stay imports. host-agent/bin.ts runs agent.bundle.js when
// it exists, else entry.js: the same code either way. Run by npm run build.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const dir = fileURLToPath(new URL("../dist/host-agent/", import.meta.url));
const entry = join(dir, "entry.js");

/** Modules reachable from file by static relative imports (tsc output: one statement per line). */
function staticClosure(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?\bfrom\s*"(\.{1,2}\/[^"]+)"|^\s*import\s*"(\.{1,2}\/[^"]+)"/gm)) {
    staticClosure(resolve(dirname(file), m[1] ?? m[2]), seen);
  }
  return seen;
}

const boot = staticClosure(entry);
for (const f of readdirSync(dir)) if (/^agent\.(bundle|chunk-)/.test(f)) rmSync(join(dir, f));
await build({
  input: entry,
  platform: "node",
  logLevel: "warn",
  // Only the project's own modules go in; packages resolve from node_modules at run time.
  external: (id) => !id.startsWith(".") && !isAbsolute(id),
  output: {
    dir,
    format: "esm",
    entryFileNames: "agent.bundle.js",
    chunkFileNames: "agent.chunk-[name]-[hash].js",
    codeSplitting: { groups: [{ name: "boot", test: (id) => boot.has(id) }] },
    // The output stays in dist/host-agent/: import.meta.url-relative paths (decrypt-worker.js, units.json) resolve as before.
  },
});
if (boot.size < 10) throw new Error(`bundle-agent: only ${boot.size} modules found on the boot path; did tsc run?`);

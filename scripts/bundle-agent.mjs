// Bundles nixseal-agent for a fast boot. Loading ~35 ES modules one by one costs a fresh
// process ~20 ms, paid at every boot by `nixseal-agent restore`. After tsc, this puts
// every module that dist/host-agent/entry.js imports statically (the boot restore path)
// into one chunk, and leaves each other command a chunk loaded when it runs. npm
// packages and node: builtins stay requires. The output is CommonJS: no ES module loader
// at boot, and `require("node:fs")` does not build the module's lazy exports (fs/promises,
// streams, readline) the way an ES import of it does. host-agent/bin.cts runs
// agent.bundle.cjs when it exists, else entry.js: the same code either way. Run by npm
// run build.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
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

// The API starts on a deploy's first connection: Fastify and the packages it loads at
// start go into the API's chunk (one file instead of ~100 to resolve and read: about a
// third of Fastify's load time). What Fastify loads only on use (inject, pino, the JSON
// schema compilers, which the agent replaces) and every other package stay requires.
const BUNDLED = new Set(["fastify", "fastify-plugin"]);
const ON_USE = new Set(["light-my-request", "pino", "@fastify/ajv-compiler", "@fastify/fast-json-stringify-compiler"]);
const packageOf = (id) => id.split("/").slice(0, id.startsWith("@") ? 2 : 1).join("/");
function external(id, importer) {
  if (id.startsWith("node:") || builtinModules.includes(id)) return true;
  if (id.startsWith(".") || isAbsolute(id)) return false;
  if (ON_USE.has(packageOf(id))) return true;
  if (importer?.includes("/node_modules/")) return false; // a dependency of a bundled package
  return !BUNDLED.has(packageOf(id));
}

const boot = staticClosure(entry);
for (const f of readdirSync(dir)) if (/^agent\.(bundle|chunk-)/.test(f)) rmSync(join(dir, f));
await build({
  input: entry,
  platform: "node",
  logLevel: "warn",
  external,
  output: {
    dir,
    format: "cjs",
    entryFileNames: "agent.bundle.cjs",
    chunkFileNames: "agent.chunk-[name]-[hash].cjs",
    codeSplitting: { groups: [{ name: "boot", test: (id) => boot.has(id) }] },
    // The output stays in dist/host-agent/: import.meta.url-relative paths (decrypt-worker.js, units.json) resolve as before
    // (rolldown turns import.meta.url into the chunk's own file URL).
  },
});
if (boot.size < 10) throw new Error(`bundle-agent: only ${boot.size} modules found on the boot path; did tsc run?`);

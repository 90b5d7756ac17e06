#!/usr/bin/env node
// nixseal-agent. CommonJS on purpose: the boot restore starts this file at every boot, and
// a CommonJS entry spares a fresh process Node's ES module loader (an ES entry, and ES
// imports of node:fs and node:crypto, which build every lazy export of those modules).
// `npm run build` bundles the agent into CommonJS (scripts/bundle-agent.mjs): the boot
// restore loads this file, agent.bundle.cjs and one chunk. The tsc modules are the
// fallback (and NIXSEAL_AGENT_NO_BUNDLE=1 picks them, to compare); both are the same code.
const { existsSync } = require("node:fs") as typeof import("node:fs");
const { join } = require("node:path") as typeof import("node:path");

type Entry = typeof import("./entry.js");
const bundle = join(__dirname, "agent.bundle.cjs");
const entry: Promise<Entry> = process.env.NIXSEAL_AGENT_NO_BUNDLE !== "1" && existsSync(bundle) ? Promise.resolve(require(bundle) as Entry) : import("./entry.js");
void entry
  .then(({ run }) => run(process.argv.slice(2)))
  .then((code) => {
    process.exitCode = code;
  });

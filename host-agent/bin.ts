#!/usr/bin/env node
// nixseal-agent. `npm run build` also bundles entry.js and every module the boot restore
// needs into one chunk (scripts/bundle-agent.mjs): loading ~35 ES modules one by one costs
// a fresh process ~17 ms, paid at every boot. The tsc modules are the fallback (and
// NIXSEAL_AGENT_NO_BUNDLE=1 picks them, to compare); both are the same code.
import { existsSync } from "node:fs";

const bundle = new URL("./agent.bundle.js", import.meta.url);
const useBundle = process.env.NIXSEAL_AGENT_NO_BUNDLE !== "1" && existsSync(bundle);
const { run } = (await import(useBundle ? bundle.href : "./entry.js")) as typeof import("./entry.js");
process.exitCode = await run(process.argv.slice(2));

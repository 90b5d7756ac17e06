// The cached base image: build-base.sh builds it once per recipe and prints its path.
import { existsSync } from "node:fs";
import { run } from "./proc.js";
import { buildScript } from "./paths.js";

let cached: Promise<string> | undefined;

/**
 * Returns the base image directory, building it first if its recipe changed (about a
 * minute; a no-op taking milliseconds once cached). Memoised per process.
 */
export function ensureBaseImage(): Promise<string> {
  cached ??= build().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function build(): Promise<string> {
  const script = buildScript();
  const r = await run(["/bin/bash", script], { env: { ...process.env } });
  const out = r.stdout.toString("utf8").trim().split("\n").pop() ?? "";
  if (r.code !== 0 || !out || !existsSync(out)) {
    throw new Error(
      `test hosts: building the base image failed (exit ${r.code}):\n` +
        `${r.stderr.toString("utf8").trim().slice(-3000)}\n` +
        `hint: run "bash ${script}" as root to see the whole build`,
    );
  }
  return out;
}

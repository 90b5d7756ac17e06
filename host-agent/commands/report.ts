// How a command reports what it did, on stderr (the journal for units): one line per
// step, then each failed secret with its reason and hints.
import { join } from "node:path";
import type { AgentConfig } from "../config/defaults.js";
import type { InstallOutcome } from "../generations/install-generation.js";
import type { SecretResult } from "../plaintext/materialize.js";
import type { AgentIo } from "./io.js";
import { unitActionLine } from "../../core/unit-actions.js";

/** One "nixseal-agent: …" line on stderr. */
export function say(io: AgentIo, line: string): void {
  io.stderr.write(`nixseal-agent: ${line}\n`);
}

/** Prints each failed secret; returns how many failed. */
function reportFailures(io: AgentIo, results: SecretResult[]): number {
  const failed = results.filter((r) => !r.ok);
  for (const r of failed) {
    say(io, `error: ${r.error ?? r.name}`);
    for (const h of r.hints ?? []) say(io, `hint: ${h}`);
  }
  return failed.length;
}

/** Names for a log line: the first ten, then a count. */
function listed(names: string[]): string {
  return names.length <= 10 ? names.join(", ") : `${names.slice(0, 10).join(", ")} and ${names.length - 10} more`;
}

/** Reports a generation made live; returns the exit code (1 when any secret failed). */
export function summarize(io: AgentIo, verb: string, out: InstallOutcome, config: AgentConfig): number {
  const ok = out.results.filter((r) => r.ok).length;
  say(io, `${verb} generation ${out.generation}: ${ok} of ${out.results.length} secrets in ${join(config.runDir, out.runGeneration)}`);
  if (out.changed.length && verb !== "restored") say(io, `changed: ${listed(out.changed)}`);
  for (const a of out.units.results ?? []) say(io, unitActionLine(a));
  for (const w of out.warnings) say(io, `warning: ${w}`);
  if (out.keysDirRefused) {
    say(io, `error: ${out.keysDirRefused}`);
    for (const h of out.keysDirHints ?? []) say(io, `hint: ${h}`);
  }
  return reportFailures(io, out.results) || out.keysDirRefused ? 1 : 0;
}

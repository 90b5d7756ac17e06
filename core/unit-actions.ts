// How a restart or reload after a switch reads for people, in the agent's own report and
// in deploy's progress view alike.
import type { UnitAction } from "./agent-api.js";

const RESULT_TEXT: Record<UnitAction["result"], string> = {
  ok: "ok",
  failed: "FAILED",
  "not-found": "not found (no such unit on this host)",
  "not-running": "not running (left stopped)",
};

/**
 * One line per unit action: `restart nginx.service: ok`, `reload x.service: FAILED: …`.
 *
 * @param a - a unit action from an activation reply
 * @returns the line, without the host
 */
export function unitActionLine(a: UnitAction): string {
  return `${a.action} ${a.unit}: ${RESULT_TEXT[a.result]}${a.result === "failed" && a.error ? `: ${a.error}` : ""}`;
}

/**
 * A short form for a summary: `nginx.service restart ok`.
 *
 * @param a - a unit action from an activation reply
 * @returns the unit, the action and its result in a few words
 */
export function unitActionShort(a: UnitAction): string {
  const r = a.result === "ok" ? "ok" : a.result === "failed" ? "FAILED" : a.result === "not-found" ? "NOT FOUND" : "not running";
  return `${a.unit} ${a.action} ${r}`;
}

/**
 * The units to restart and to reload for some changed secrets, each once; restart wins
 * over reload. The agent runs them after a switch; deploy --dry-run says them.
 *
 * @param changed - the changed (or removed) secrets and templates
 * @returns unit names, sorted
 */
export function unitsFor(changed: readonly { restartUnits: readonly string[]; reloadUnits: readonly string[] }[]): { restart: string[]; reload: string[] } {
  const restart = new Set(changed.flatMap((s) => s.restartUnits));
  const reload = new Set(changed.flatMap((s) => s.reloadUnits).filter((u) => !restart.has(u)));
  return { restart: [...restart].sort(), reload: [...reload].sort() };
}

// After a switch: restart or reload the units that changed secrets name, each unit
// once, through systemctl (try-restart leaves stopped units stopped), each with its result.
import type { UnitAction, UnitActions } from "../../core/agent-api.js";
import type { BundleSecret } from "../../core/schema/bundle.js";
import { unitsFor } from "../../core/unit-actions.js";
import { unitAction, unitStates } from "./unit-states.js";

/**
 * Restarts (try-restart) or reloads (try-reload-or-restart) each unit the changed secrets
 * name, one systemctl call per unit so each gets its own result: a unit this host does
 * not have is "not-found" (nothing run), a stopped one "not-running" (left stopped),
 * else "ok" or "failed" with systemctl's complaint.
 */
export async function restartChangedUnits(changed: readonly Pick<BundleSecret, "restartUnits" | "reloadUnits">[]): Promise<UnitActions> {
  const { restart, reload } = unitsFor(changed);
  const planned = [...restart.map((unit) => ({ unit, action: "restart" as const })), ...reload.map((unit) => ({ unit, action: "reload" as const }))];
  const states = new Map((await unitStates(planned.map((p) => p.unit))).map((s) => [s.unit, s]));
  const results: UnitAction[] = [];
  for (const { unit, action } of planned) {
    const state = states.get(unit);
    if (!state?.found) {
      results.push({ unit, action, result: "not-found" });
      continue;
    }
    if (state.activeState !== "active" && state.activeState !== "reloading" && state.activeState !== "activating") {
      results.push({ unit, action, result: "not-running" });
      continue;
    }
    const error = await unitAction(action === "restart" ? "try-restart" : "try-reload-or-restart", unit);
    results.push(error === undefined ? { unit, action, result: "ok" } : { unit, action, result: "failed", error });
  }
  const failed = results.filter((r) => r.result === "failed");
  return { restarted: restart, reloaded: reload, results, ...(failed.length ? { error: failed.map((r) => r.error).join("; ") } : {}) };
}

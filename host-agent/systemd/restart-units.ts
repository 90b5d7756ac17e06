// After a switch: restart or reload the units that changed secrets name, each unit
// once, through systemctl (try-restart leaves stopped units stopped).
import type { UnitActions } from "../../core/agent-api.js";
import type { BundleSecret } from "../../core/schema/bundle.js";

/** The units to restart and to reload for some changed secrets; restart wins over reload. */
export function unitsFor(changed: readonly Pick<BundleSecret, "restartUnits" | "reloadUnits">[]): { restart: string[]; reload: string[] } {
  const restart = new Set(changed.flatMap((s) => s.restartUnits));
  const reload = new Set(changed.flatMap((s) => s.reloadUnits).filter((u) => !restart.has(u)));
  return { restart: [...restart].sort(), reload: [...reload].sort() };
}

async function systemctl(args: string[]): Promise<string | undefined> {
  const { spawn } = await import("node:child_process"); // not on the boot path
  return new Promise((resolve) => {
    const child = spawn("systemctl", args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => resolve(`systemctl: ${e.message}`));
    child.on("close", (code) => resolve(code === 0 ? undefined : err.trim() || `systemctl ${args[0]} exited ${code}`));
  });
}

/** Runs one systemctl call per action for the given changed secrets. */
export async function restartChangedUnits(changed: readonly Pick<BundleSecret, "restartUnits" | "reloadUnits">[]): Promise<UnitActions> {
  const { restart, reload } = unitsFor(changed);
  const problems: string[] = [];
  if (restart.length) {
    const e = await systemctl(["try-restart", "--", ...restart]);
    if (e) problems.push(e);
  }
  if (reload.length) {
    const e = await systemctl(["try-reload-or-restart", "--", ...reload]);
    if (e) problems.push(e);
  }
  return { restarted: restart, reloaded: reload, ...(problems.length ? { error: problems.join("; ") } : {}) };
}

// What systemd knows of some units: whether each exists (LoadState) and runs
// (ActiveState). Stage and check report it, so a deploy learns of a unit named by a
// secret that this host does not have before anything changes; restarts use it to say
// "not found" instead of a failed systemctl call.
import type { UnitState } from "../../core/agent-api.js";

async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const { spawn } = await import("node:child_process"); // not on the boot path
  return new Promise((resolve) => {
    const child = spawn("systemctl", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => resolve({ code: null, out, err: `systemctl: ${e.message}` }));
    child.on("close", (code) => resolve({ code, out, err: err.trim() }));
  });
}

/** One systemctl call: `systemctl show -p Id,LoadState,ActiveState` for each unit, in order. */
export async function unitStates(units: readonly string[]): Promise<UnitState[]> {
  if (units.length === 0) return [];
  const r = await run(["show", "--property=Id,LoadState,ActiveState", "--", ...units]);
  const blocks = r.out.split(/\n\s*\n/).map((b) => Object.fromEntries(b.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])));
  return units.map((unit, i) => {
    const b = blocks[i] ?? {};
    if (r.code !== 0 && !b.LoadState) return { unit, found: false, loadState: "unknown", activeState: "unknown" };
    const loadState = b.LoadState ?? "unknown";
    return { unit, found: loadState === "loaded", loadState, activeState: b.ActiveState ?? "unknown" };
  });
}

/** `systemctl ACTION -- unit`: undefined when it worked, else its complaint (unit names only). */
export async function unitAction(action: "try-restart" | "try-reload-or-restart", unit: string): Promise<string | undefined> {
  const r = await run([action, "--", unit]);
  // the first line says why ("Job for x.service failed because …"); the rest points at journalctl
  return r.code === 0 ? undefined : r.err.split("\n")[0] || `systemctl ${action} exited ${r.code}`;
}

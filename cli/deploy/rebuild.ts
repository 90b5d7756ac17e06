// The rebuild on the host, run after the config landed in /etc/nixos: the host builds
// with its own pinned nixpkgs (channels or flake inputs), not the deployer's.
import type { NodeSSH } from "node-ssh";
import { NixsealError } from "../../core/index.js";
import { runScript, tail } from "./remote.js";

/** How to rebuild one host. */
interface RebuildOptions {
  hostName: string;
  /** The host's own command from nixseal.json; default `nixos-rebuild switch`. */
  command?: string;
  /** Pass --upgrade (update the host's channels first). */
  upgrade: boolean;
}

// Flake-aware default: `--flake /etc/nixos#HOST` when the config has a flake.nix.
// No exec: this shell stays alive with the run's marker ($4) in its arguments, so a
// deploy that lost its connection can find out whether the rebuild still runs.
const REBUILD = `
cmd=$1 host=$2 upgrade=$3
if [ -n "$cmd" ]; then
  if [ "$upgrade" = 1 ]; then cmd="$cmd --upgrade"; fi
  sh -c "$cmd"
  exit $?
fi
set -- switch
if [ -f /etc/nixos/flake.nix ]; then set -- "$@" --flake "/etc/nixos#$host"; fi
if [ "$upgrade" = 1 ]; then set -- "$@" --upgrade; fi
nixos-rebuild "$@"
`;

/** Marks the rebuild shell of one deploy run in the host's process list. */
function rebuildMarker(runId: string): string {
  return `nixseal-rebuild-${runId}`;
}

/**
 * Waits until no process of the given run's rebuild is left on the host (a rebuild whose
 * connection was lost keeps running there), checking every half second.
 *
 * @throws NixsealError NIXSEAL_ERR_DEPLOY_REBUILD when it still runs after timeoutSeconds
 */
export async function waitRebuildGone(ssh: NodeSSH, hostName: string, runId: string, timeoutSeconds: number): Promise<void> {
  // "[n]ixseal-…" as a regex matches the marker but not this script's own arguments
  const pattern = `[${rebuildMarker(runId)[0]}]${rebuildMarker(runId).slice(1)}`;
  const r = await runScript(
    ssh,
    `i=0; while pgrep -f -- "$1" >/dev/null; do i=$((i+1)); [ $i -lt $(($2*2)) ] || exit 9; sleep 0.5; done`,
    [pattern, String(timeoutSeconds)],
  );
  if (r.code !== 0) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_REBUILD", `host "${hostName}": the interrupted rebuild still runs after ${timeoutSeconds}s`, {
      hints: [`let it finish, then run "nixseal rollback ${hostName}" or deploy again`],
    });
  }
}

/** The command line a person would read in the report. */
export function describeRebuild(o: RebuildOptions, flake: boolean): string {
  if (o.command) return o.command + (o.upgrade ? " --upgrade" : "");
  return ["nixos-rebuild switch", flake ? `--flake /etc/nixos#${o.hostName}` : "", o.upgrade ? "--upgrade" : ""].filter(Boolean).join(" ");
}

/**
 * Runs the rebuild; output goes to onOutput as it comes.
 *
 * @throws NixsealError NIXSEAL_ERR_DEPLOY_REBUILD with the last lines of its output
 */
export async function runRebuild(ssh: NodeSSH, o: RebuildOptions, onOutput?: (chunk: string) => void, runId = "manual"): Promise<void> {
  const r = await runScript(ssh, REBUILD, [o.command ?? "", o.hostName, o.upgrade ? "1" : "0", rebuildMarker(runId)], onOutput);
  if (r.code === 127) throw rebuildMissing(o, tail(r.stderr, 1));
  if (r.code !== 0) {
    const out = tail(r.stdout + r.stderr, 8);
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_REBUILD", `host "${o.hostName}": rebuild failed (exit ${r.code ?? r.signal})${out ? `:\n${out}` : ""}`, {
      hints: ["fix the config (try the rebuild on the host by hand), then deploy again"],
    });
  }
}

/** The program the rebuild runs first: nixos-rebuild, or the first word of the host's own command. */
function rebuildProgram(o: Pick<RebuildOptions, "command">): string {
  return o.command?.trim().split(/\s+/)[0] ?? "nixos-rebuild";
}

/** The rebuild's program is not on the host (sh's exit 127). */
export function rebuildMissing(o: Pick<RebuildOptions, "hostName" | "command">, shellSaid = ""): NixsealError {
  const program = rebuildProgram(o);
  return new NixsealError("NIXSEAL_ERR_DEPLOY_NO_REBUILD", `host "${o.hostName}" has no ${program}${o.command ? "" : " (is it a NixOS host?)"}${shellSaid ? `: ${shellSaid.trim()}` : ""}`, {
    hints: [
      `to ship its secrets only: nixseal deploy ${o.hostName} --secrets-only (a host without a config dir in the repo gets secrets only)`,
      `to run another command after the config lands: nixseal host set ${o.hostName} --rebuild 'COMMAND'`,
    ],
  });
}

/**
 * Whether the rebuild's program is on the host (what --dry-run checks before a deploy
 * would run it).
 */
export async function rebuildAvailable(ssh: NodeSSH, o: Pick<RebuildOptions, "command">): Promise<boolean> {
  // a command that starts with VAR=value is left to the rebuild itself to judge
  if (rebuildProgram(o).includes("=")) return true;
  const r = await runScript(ssh, `command -v -- "$1" >/dev/null 2>&1`, [rebuildProgram(o)]);
  return r.code === 0;
}

// The rebuild on the host, run after the config landed in /etc/nixos: the host builds
// with its own pinned nixpkgs (channels or flake inputs), not the deployer's.
import type { NodeSSH } from "node-ssh";
import { NixsealError } from "../../core/index.js";
import { runScript, tail } from "./remote.js";

/** How to rebuild one host. */
export interface RebuildOptions {
  hostName: string;
  /** The host's own command from nixseal.json; default `nixos-rebuild switch`. */
  command?: string;
  /** Pass --upgrade (update the host's channels first). */
  upgrade: boolean;
}

// Flake-aware default: `--flake /etc/nixos#HOST` when the config has a flake.nix.
const REBUILD = `
cmd=$1 host=$2 upgrade=$3
if [ -n "$cmd" ]; then
  if [ "$upgrade" = 1 ]; then cmd="$cmd --upgrade"; fi
  exec sh -c "$cmd"
fi
set -- switch
if [ -f /etc/nixos/flake.nix ]; then set -- "$@" --flake "/etc/nixos#$host"; fi
if [ "$upgrade" = 1 ]; then set -- "$@" --upgrade; fi
exec nixos-rebuild "$@"
`;

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
export async function runRebuild(ssh: NodeSSH, o: RebuildOptions, onOutput?: (chunk: string) => void): Promise<void> {
  const r = await runScript(ssh, REBUILD, [o.command ?? "", o.hostName, o.upgrade ? "1" : "0"], onOutput);
  if (r.code !== 0) {
    const out = tail(r.stdout + r.stderr, 8);
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_REBUILD", `host "${o.hostName}": rebuild failed (exit ${r.code ?? r.signal})${out ? `:\n${out}` : ""}`, {
      hints: ["fix the config (try the rebuild on the host by hand), then deploy again"],
    });
  }
}

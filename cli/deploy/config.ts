// The host's NixOS config in /etc/nixos: install a staged copy, keep the previous one,
// put it back. Each install is two renames in /etc (the new tree is fully written
// first); a crash between them is repaired by the next run's first line.
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import type { NodeSSH } from "node-ssh";
import { HOST_PATHS, NixsealError } from "../../core/index.js";
import { runScript, tail } from "./remote.js";

const CONFIG_STATE = HOST_PATHS.configBackup;
/** Marker inside a kept copy meaning "there was no /etc/nixos before". */
const ABSENT = ".nixseal-was-absent";

const COMMON = `
set -eu
state=${CONFIG_STATE}
mkdir -p "$state" && chmod 0700 "$state"
# a crash between the two renames below leaves /etc/.nixos.old and no /etc/nixos
if [ ! -e /etc/nixos ] && [ -d /etc/.nixos.old ]; then mv /etc/.nixos.old /etc/nixos; fi
rm -rf /etc/.nixos.new /etc/.nixos.old
# put_in_place DIR: DIR's content becomes /etc/nixos (DIR is copied, not moved)
put_in_place() {
  if [ -e "$1/${ABSENT}" ]; then rm -rf /etc/nixos; return; fi
  cp -a "$1" /etc/.nixos.new
  chown -R root:root /etc/.nixos.new
  if [ -e /etc/nixos ]; then mv /etc/nixos /etc/.nixos.old; fi
  mv /etc/.nixos.new /etc/nixos
  rm -rf /etc/.nixos.old
}
# snapshot DEST: copy the current /etc/nixos (or an absence marker) to DEST
snapshot() {
  rm -rf "$1"
  if [ -d /etc/nixos ]; then cp -a /etc/nixos "$1"; else mkdir "$1" && : > "$1/${ABSENT}"; fi
}
`;

/** Installs STAGED into /etc/nixos, first keeping the current one as "previous". */
const INSTALL = `${COMMON}
snapshot "$state/previous.new"
rm -rf "$state/previous" && mv "$state/previous.new" "$state/previous"
put_in_place "$1"
sync
`;

/**
 * Puts "previous" in place and keeps what it replaces as the new "previous": /etc/nixos and
 * the kept copy trade places. Used by nixseal rollback and to undo a failed deploy (then
 * "previous" is the failed attempt, as the agent's previous secrets generation is).
 */
const SWAP = `${COMMON}
[ -d "$state/previous" ] || { echo "no previous config kept in $state/previous" >&2; exit 3; }
if [ -e "$state/previous/${ABSENT}" ]; then echo NIXSEAL-WAS-ABSENT; fi
snapshot "$state/previous.new"
put_in_place "$state/previous"
rm -rf "$state/previous" && mv "$state/previous.new" "$state/previous"
sync
`;

async function run(ssh: NodeSSH, hostName: string, step: string, script: string, args: string[] = []): Promise<string> {
  const r = await runScript(ssh, script, args);
  if (r.code !== 0) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_CONFIG", `host "${hostName}": ${step} failed (exit ${r.code ?? r.signal}): ${tail(r.stderr, 3)}`, {
      hints: [`look at /etc/nixos and ${CONFIG_STATE} on the host`],
    });
  }
  return r.stdout;
}

/** Installs the staged config dir into /etc/nixos, keeping the previous copy. */
export async function installConfig(ssh: NodeSSH, hostName: string, stagedDir: string): Promise<void> {
  await run(ssh, hostName, "install config into /etc/nixos", INSTALL, [stagedDir]);
}

/** Puts the previous /etc/nixos back after a failed deploy; false when there was none before. */
export async function restoreConfig(ssh: NodeSSH, hostName: string): Promise<boolean> {
  const out = await run(ssh, hostName, "restore the previous /etc/nixos", SWAP);
  return !out.includes("NIXSEAL-WAS-ABSENT");
}

/** Swaps /etc/nixos with the kept previous copy (nixseal rollback). */
export async function swapConfig(ssh: NodeSSH, hostName: string): Promise<void> {
  await run(ssh, hostName, "roll /etc/nixos back to the previous copy", SWAP);
}

/** File path (relative, "./" stripped) to hex sha256. */
export type ConfigListing = Map<string, string>;

/** Hashes every regular file of a local config dir. */
export async function localConfigListing(dir: string): Promise<ConfigListing> {
  const out: ConfigListing = new Map();
  async function walk(d: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.set(relative(dir, p), createHash("sha256").update(await readFile(p)).digest("hex"));
    }
  }
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error("not a directory");
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_NO_CONFIG", `config dir ${dir} does not exist`, {
      cause: err,
      hints: ["put the host's NixOS config (configuration.nix or flake.nix) there, set another with \"nixseal host set NAME --config DIR\", or deploy --secrets-only"],
    });
  }
  await walk(dir);
  return out;
}

/** Hashes every regular file of /etc/nixos on the host (empty map when absent). */
export async function remoteConfigListing(ssh: NodeSSH): Promise<ConfigListing> {
  const r = await runScript(ssh, `[ -d /etc/nixos ] || exit 0; cd /etc/nixos && find . -type f -print0 | sort -z | xargs -0 -r sha256sum`);
  const out: ConfigListing = new Map();
  for (const line of r.stdout.split("\n")) {
    const m = /^([0-9a-f]{64})  \.\/(.*)$/.exec(line);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

/** Files added, changed and removed going from `from` to `to`. */
export function diffListings(from: ConfigListing, to: ConfigListing): { added: string[]; changed: string[]; removed: string[] } {
  const added = [...to.keys()].filter((k) => !from.has(k)).sort();
  const changed = [...to.keys()].filter((k) => from.has(k) && from.get(k) !== to.get(k)).sort();
  const removed = [...from.keys()].filter((k) => !to.has(k)).sort();
  return { added, changed, removed };
}

/** One hash for a whole listing (order-independent). */
export function listingHash(l: ConfigListing): string {
  const h = createHash("sha256");
  for (const k of [...l.keys()].sort()) h.update(`${l.get(k)}  ${k}\n`);
  return h.digest("hex");
}

// The per-host deploy lock: a flock(1) held by a shell whose life is tied to one SSH
// channel. When the deployer releases it, exits, is killed, or its connection drops, the
// channel closes, `cat` sees EOF, the shell exits and the kernel drops the lock. No stale
// lock files, no PIDs to clean up.
import type { NodeSSH } from "node-ssh";
import { hostname, userInfo } from "node:os";
import { HOST_PATHS, NixsealError } from "../../core/index.js";
import { openExec, shellQuote, type RawChannel } from "./remote.js";

const LOCK_FILE = HOST_PATHS.deployLock;

const LOCK_SCRIPT = `
set -u
# created root-only as the units make it (StateDirectoryMode=0700); an existing one keeps its mode
mkdir -p -m 0700 ${HOST_PATHS.stateDir}
exec 9>>${LOCK_FILE}
if ! flock -n 9; then
  if [ "$1" -eq 0 ]; then echo NIXSEAL-BUSY; cat ${LOCK_FILE}.holder 2>/dev/null; exit 75; fi
  echo NIXSEAL-WAITING; cat ${LOCK_FILE}.holder 2>/dev/null
  if ! flock -w "$1" 9; then echo NIXSEAL-TIMEOUT; cat ${LOCK_FILE}.holder 2>/dev/null; exit 75; fi
fi
printf '%s\\n' "$2" > ${LOCK_FILE}.holder
echo NIXSEAL-LOCKED
exec cat >/dev/null
`;

/** A held remote lock; release() is idempotent. */
export interface RemoteLock {
  release(): Promise<void>;
  /** Whether the lock had to be waited for. */
  waited: boolean;
}

/**
 * Takes the host's deploy lock.
 *
 * @param waitSeconds - 0 refuses at once when another deploy holds it; N waits up to N seconds
 * @param onWaiting - called once with the holder's description when we have to wait
 * @throws NixsealError NIXSEAL_ERR_DEPLOY_LOCKED when refused or timed out
 */
export async function takeLock(ssh: NodeSSH, hostName: string, waitSeconds: number, onWaiting?: (holder: string) => void): Promise<RemoteLock> {
  const who = `nixseal deploy by ${userInfo().username}@${hostname()} (pid ${process.pid}) since ${new Date().toISOString()}`;
  const cmd = ["sh", "-c", LOCK_SCRIPT, "nixseal-lock", String(Math.max(0, Math.floor(waitSeconds))), who].map(shellQuote).join(" ");
  const ch = await openExec(ssh, cmd);
  let out = "";
  let waited = false;
  let err = "";
  const closed = new Promise<void>((resolve) => ch.on("close", () => resolve()));
  const outcome = await new Promise<"locked" | "busy" | "timeout" | "dropped">((resolve) => {
    ch.on("data", (d: Buffer) => {
      out += d.toString("utf8");
      if (/NIXSEAL-LOCKED/.test(out)) resolve("locked");
      else if (/NIXSEAL-TIMEOUT/.test(out)) resolve("timeout");
      else if (/NIXSEAL-BUSY/.test(out)) resolve("busy");
      else if (!waited && /NIXSEAL-WAITING\n.*\n/.test(out)) {
        waited = true;
        onWaiting?.(holderOf(out, "NIXSEAL-WAITING"));
      }
    });
    ch.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
    void closed.then(() => resolve("dropped"));
  });
  if (outcome === "locked") return lockHandle(ch, closed, waited);
  if (outcome === "dropped") {
    if (!ssh.isConnected()) throw new NixsealError("NIXSEAL_ERR_DEPLOY_CONNECT", `host "${hostName}": ssh connection dropped while taking the deploy lock`);
    const why = err.trim().split("\n").pop() || "the lock command ended early";
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_LOCK_FAILED", `host "${hostName}": cannot take the deploy lock ${LOCK_FILE}: ${why}`, {
      hints: ["deploy logs in as root (target root@ADDRESS) and needs flock(1) (util-linux) on the host"],
    });
  }
  // the script prints the holder after the marker and exits: read until the channel closes
  await waitFor(closed, 5000);
  ch.close();
  const holder = holderOf(out, outcome === "busy" ? "NIXSEAL-BUSY" : "NIXSEAL-TIMEOUT");
  throw new NixsealError(
    "NIXSEAL_ERR_DEPLOY_LOCKED",
    outcome === "busy"
      ? `host "${hostName}" is locked by another deploy (${holder}): refused without waiting`
      : `host "${hostName}" is still locked by another deploy (${holder}) after waiting ${waitSeconds}s`,
    { hints: ["let the other deploy finish, or pass --wait SECONDS to wait for it"] },
  );
}

function holderOf(out: string, marker: string): string {
  const line = out.split(marker)[1]?.split("\n")[1]?.trim();
  return line ? line : "holder unknown";
}

function lockHandle(ch: RawChannel, closed: Promise<void>, waited: boolean): RemoteLock {
  let released = false;
  return {
    waited,
    async release() {
      if (released) return;
      released = true;
      ch.end(); // EOF for cat: the shell exits and the lock is dropped
      await waitFor(closed, 5000);
    },
  };
}

async function waitFor(p: Promise<void>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}

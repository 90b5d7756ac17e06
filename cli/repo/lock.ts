import { randomBytes } from "node:crypto";
import { link, readFile, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { NixsealError } from "../../core/index.js";
import { isProcessAlive } from "../../core/process.js";
import { lockFile } from "./paths.js";

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/**
 * Runs fn while holding the repo lock, so two operators (or two shells) cannot
 * interleave writes to nixseal.json and secrets/. The lock file is created
 * complete and atomically (write a temp file, then link(2), which fails if the
 * lock exists). A lock left by a dead process on this machine is taken over;
 * one held by a live process, or by another machine, is an error that says who.
 *
 * @param dir - the repo directory
 * @param fn - work to do under the lock
 * @throws NixsealError NIXSEAL_ERR_REPO_LOCKED
 */
export async function withRepoLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const token = await acquire(dir);
  try {
    return await fn();
  } finally {
    await release(dir, token);
  }
}

async function acquire(dir: string): Promise<string> {
  const file = lockFile(dir);
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const token = JSON.stringify(me) + "\n";
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(tmp, token, { mode: 0o644, flag: "wx" });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await link(tmp, file);
        return token;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = await readOwner(file);
      if (holder && holder.host === me.host && holder.pid !== process.pid && !isProcessAlive(holder.pid)) {
        // Left behind by a process that died (e.g. killed): take it over.
        await unlink(file).catch(() => {});
        continue;
      }
      throw lockedError(file, holder);
    }
    throw lockedError(file, await readOwner(file));
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function release(dir: string, token: string): Promise<void> {
  const file = lockFile(dir);
  const now = await readFile(file, "utf8").catch(() => null);
  if (now === token) await unlink(file).catch(() => {});
}

async function readOwner(file: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await readFile(file, "utf8")) as LockOwner;
    return typeof o.pid === "number" && typeof o.host === "string" ? o : null;
  } catch {
    return null;
  }
}

function lockedError(file: string, holder: LockOwner | null): NixsealError {
  const who = holder
    ? holder.host === hostname()
      ? `pid ${holder.pid}, since ${holder.since}`
      : `pid ${holder.pid} on ${holder.host}, since ${holder.since}`
    : "unknown process";
  return new NixsealError("NIXSEAL_ERR_REPO_LOCKED", `another nixseal is running on this repo (${who})`, {
    hints: [`wait for it to finish, or remove ${file} if no nixseal is running`],
  });
}

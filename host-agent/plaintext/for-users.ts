// Secrets users are made with (neededForUsers: users.users.<n>.hashedPasswordFile on
// NixOS): root-only files in forUsersDir (<runDir>/for-users, on the same memory
// filesystem). `restore --for-users` writes them before any user exists (before
// systemd-sysusers or userborn, or from the users activation snippet); every later
// install (boot restore, activate) links them to its generation's files.
import { linkSync, lstatSync, mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { BundleSecret } from "../../core/schema/bundle.js";
import { readStoredGeneration } from "../generations/bundle-dir.js";
import type { AgentConfig } from "../config/defaults.js";
import { generationDir, linkedGeneration } from "../generations/store.js";
import { loadHostIdentities } from "./host-keys.js";
import { acquireLock } from "../generations/lock.js";
import { decryptSecret } from "./materialize.js";
import { checkRunDir } from "./memory-fs.js";

function tmpName(dir: string, name: string): string {
  return join(dir, `.${name}.${randomBytes(6).toString("hex")}.tmp`);
}

function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!lstatSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
}

/** Removes every file of dir not in keep (a secret no longer needed for users). */
function pruneExcept(dir: string, keep: Set<string>): void {
  for (const entry of readdirSync(dir)) if (!keep.has(entry)) unlinkSync(join(dir, entry));
}

/**
 * After an install: forUsersDir/<name> becomes a hard link to the live
 * generation's file of each neededForUsers secret (same owner root, same mode).
 *
 * @returns the names linked
 */
export function linkForUsers(config: AgentConfig, runName: string, secrets: readonly BundleSecret[]): string[] {
  const names = secrets.filter((s) => s.neededForUsers).map((s) => s.name);
  if (names.length === 0 && !exists(config.forUsersDir)) return [];
  prepareDir(config.forUsersDir);
  for (const name of names) {
    const tmp = tmpName(config.forUsersDir, name);
    linkSync(join(config.runDir, runName, name), tmp);
    renameSync(tmp, join(config.forUsersDir, name));
  }
  pruneExcept(config.forUsersDir, new Set(names));
  return names;
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * `nixseal-agent restore --for-users`: decrypts only the neededForUsers secrets of
 * the current generation (previous if current is unreadable) into forUsersDir,
 * root:root 0400, needing no user or group to exist.
 *
 * @returns the generation read (null when none is installed) and the names written
 */
export async function restoreForUsers(config: AgentConfig): Promise<{ generation: number | null; names: string[] }> {
  checkRunDir(config.runDir, config);
  const release = acquireLock(config.runDir);
  try {
    let problem: { err: unknown } | undefined; // the last unreadable generation's error
    for (const g of [linkedGeneration(config.stateDir, "current"), linkedGeneration(config.stateDir, "previous")]) {
      if (g === undefined) continue;
      let bundle;
      try {
        bundle = await readStoredGeneration(generationDir(config.stateDir, g));
      } catch (err) {
        problem = { err };
        continue;
      }
      const entries = bundle.entries.filter((e) => e.secret.neededForUsers);
      prepareDir(config.forUsersDir);
      if (entries.length) {
        const identities = await loadHostIdentities(config.identityPaths);
        for (const { secret, blob, error } of entries) {
          if (!blob) throw error!;
          const value = decryptSecret(secret.name, blob, identities);
          const tmp = tmpName(config.forUsersDir, secret.name);
          try {
            writeFileSync(tmp, value, { mode: 0o400, flag: "wx" });
          } finally {
            value.fill(0);
          }
          renameSync(tmp, join(config.forUsersDir, secret.name));
        }
      }
      const names = entries.map((e) => e.secret.name);
      pruneExcept(config.forUsersDir, new Set(names));
      return { generation: g, names };
    }
    if (problem) throw problem.err;
    return { generation: null, names: [] };
  } finally {
    release();
  }
}

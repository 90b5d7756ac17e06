import { findRepo } from "./find.js";
import { loadRepo, type LoadedRepo, type LoadOptions } from "./load.js";
import { withRepoLock } from "./lock.js";

/**
 * Finds the repo from cwd, takes the repo lock, loads nixseal.json under it
 * and runs fn. Every command that writes goes through here, so what it read is
 * what it changes.
 */
export async function withLockedRepo<T>(cwd: string, fn: (loaded: LoadedRepo) => Promise<T>, opts: LoadOptions = {}): Promise<T> {
  const dir = await findRepo(cwd);
  return withRepoLock(dir, async () => fn(await loadRepo(dir, opts)));
}

import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { NixsealError } from "../../core/index.js";
import { repoFile } from "./paths.js";

/**
 * Finds the secrets repo: the nearest directory at or above cwd that holds
 * nixseal.json (like git finds .git).
 *
 * @throws NixsealError NIXSEAL_ERR_NO_REPO when there is none
 */
export async function findRepo(cwd: string): Promise<string> {
  let dir = resolve(cwd);
  for (;;) {
    if (await isFile(repoFile(dir))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new NixsealError("NIXSEAL_ERR_NO_REPO", `no nixseal.json in ${resolve(cwd)} or any parent directory`, {
    hints: ['run "nixseal init" in your repository, or cd into it'],
  });
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

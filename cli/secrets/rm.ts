// `nixseal secrets rm NAME`: off nixseal.json, then its blob.
import { unlink } from "node:fs/promises";
import { unknownSecret } from "../errors.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { saveRepo, secretFile, withLockedRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";
import { passwordOwner, refusePasswordSecret } from "./generated.js";

export async function removeSecret(io: CliIo, name: string): Promise<void> {
  checkSecretName(name);
  const removed = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
    if (!repo.secrets[name]) throw unknownSecret(name, repo);
    refusePasswordSecret(repo, name, "removed");
    // Its generated password goes with it.
    const names = [name, ...Object.keys(repo.secrets).filter((n) => passwordOwner(repo, n) === name)];
    for (const n of names) delete repo.secrets[n];
    // Metadata first: a leftover blob is harmless, a listed secret without one is not.
    await saveRepo(dir, repo);
    for (const n of names) await unlink(secretFile(dir, n)).catch(() => {});
    return names;
  });
  printInfo(io, `removed ${removed.join(" and ")}; hosts drop it at their next deploy (git history still holds the old ciphertext)`);
}

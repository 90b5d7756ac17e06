// `nixseal secrets rm NAME`: off nixseal.json, then its blob.
import { unlink } from "node:fs/promises";
import { unknownSecret } from "../errors.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { saveRepo, secretFile, withLockedRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";

export async function removeSecret(io: CliIo, name: string): Promise<void> {
  checkSecretName(name);
  await withLockedRepo(io.cwd, async ({ dir, repo }) => {
    if (!repo.secrets[name]) throw unknownSecret(name, repo);
    delete repo.secrets[name];
    // Metadata first: a leftover blob is harmless, a listed secret without one is not.
    await saveRepo(dir, repo);
    await unlink(secretFile(dir, name)).catch(() => {});
  });
  printInfo(io, `removed ${name}; hosts drop it at their next deploy (git history still holds the old ciphertext)`);
}

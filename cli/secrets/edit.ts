// `nixseal secrets edit NAME`: the value in $EDITOR (cleartext on a tmpfs only), re-encrypted when it changed.
import { editValue } from "../editor.js";
import { unknownSecret } from "../errors.js";
import { loadAdminIdentity } from "../identity/index.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { decryptSecret } from "../repo/crypt.js";
import { openRepo, saveRepo, withLockedRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";
import { refusePasswordSecret, storeValue } from "./generated.js";
import { now } from "./write.js";

export async function editSecret(io: CliIo, name: string, opts: { identity?: string }): Promise<void> {
  checkSecretName(name);
  const before = await openRepo(io.cwd);
  if (!before.repo.secrets[name]) throw unknownSecret(name, before.repo);
  refusePasswordSecret(before.repo, name, "edited");
  const admin = await loadAdminIdentity(io, opts.identity);
  // The lock is held while the editor runs, so nobody rotates the value underneath.
  const result = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
    const s = repo.secrets[name];
    if (!s) throw unknownSecret(name, repo);
    const current = await decryptSecret(dir, name, admin.identities, admin.source, repo.admins);
    let edited: Buffer | null = null;
    try {
      edited = await editValue(io, name, current);
      if (!edited) return null;
      s.version += 1;
      s.updatedAt = now();
      // An edited value is the operator's own: no longer generated, no public half or password.
      const after = await storeValue(dir, repo, name, { value: edited });
      await saveRepo(dir, repo);
      await after();
      return s.version;
    } finally {
      current.fill(0);
      edited?.fill(0);
    }
  });
  printInfo(io, result === null ? `${name} unchanged; nothing written` : `updated ${name} (version ${result})`);
}

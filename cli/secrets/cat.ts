// `nixseal secrets cat NAME`: the value on stdout.
import { unknownSecret } from "../errors.js";
import { loadAdminIdentity } from "../identity/index.js";
import type { CliIo } from "../io.js";
import { decryptSecret } from "../repo/crypt.js";
import { openRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";

export async function catSecret(io: CliIo, name: string, opts: { identity?: string }): Promise<void> {
  checkSecretName(name);
  const { dir, repo } = await openRepo(io.cwd);
  if (!repo.secrets[name]) throw unknownSecret(name, repo);
  const admin = await loadAdminIdentity(io, opts.identity);
  const value = await decryptSecret(dir, name, admin.identities, admin.source, repo.admins);
  // Not zeroed afterwards: the stream may still hold this very buffer.
  await new Promise<void>((resolve, reject) => io.stdout.write(value, (err) => (err ? reject(err) : resolve())));
}

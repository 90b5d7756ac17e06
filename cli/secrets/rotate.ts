// `nixseal secrets rotate NAME`: a new value (version + 1); a generated secret is generated again.
import { unknownSecret } from "../errors.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { openRepo, saveRepo, withLockedRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";
import { readValue, type ValueOptions } from "../values.js";
import { passwordSecretFor, refusePasswordSecret, storeValue, wipe } from "./generated.js";
import { printGenerated } from "./show.js";
import { now } from "./write.js";

export type RotateOptions = ValueOptions & { stdin?: boolean };

export async function rotateSecret(io: CliIo, name: string, opts: RotateOptions): Promise<void> {
  checkSecretName(name);
  const before = await openRepo(io.cwd);
  const old = before.repo.secrets[name];
  if (!old) throw unknownSecret(name, before.repo);
  refusePasswordSecret(before.repo, name, "rotated");
  const fallback = opts.stdin ? undefined : old.generate;
  const v = await readValue(io, opts, fallback, `secrets rotate ${name}`, name);
  try {
    const { version, after } = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
      const s = repo.secrets[name];
      if (!s) throw unknownSecret(name, repo);
      refusePasswordSecret(repo, name, "rotated");
      passwordSecretFor(repo, name, v.generated, s.generate);
      s.version += 1;
      s.updatedAt = now();
      const after = await storeValue(dir, repo, name, v);
      await saveRepo(dir, repo);
      return { version: s.version, after };
    });
    await after();
    printInfo(io, `rotated ${name} (version ${version})`);
    printGenerated(io, name, v);
  } finally {
    wipe(v);
  }
}

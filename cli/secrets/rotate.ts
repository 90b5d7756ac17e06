// `nixseal secrets rotate NAME`: a new value (version + 1); a generated secret is generated again.
import { unknownSecret } from "../errors.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { openRepo, saveRepo, withLockedRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";
import { readValue, type ValueOptions } from "../values.js";
import { now, writeEncrypted } from "./write.js";

export type RotateOptions = ValueOptions & { stdin?: boolean };

export async function rotateSecret(io: CliIo, name: string, opts: RotateOptions): Promise<void> {
  checkSecretName(name);
  const before = await openRepo(io.cwd);
  const old = before.repo.secrets[name];
  if (!old) throw unknownSecret(name, before.repo);
  const fallback = opts.stdin ? undefined : old.generate;
  const { value, generated } = await readValue(io, opts, fallback, `secrets rotate ${name}`);
  try {
    const version = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
      const s = repo.secrets[name];
      if (!s) throw unknownSecret(name, repo);
      s.version += 1;
      s.updatedAt = now();
      if (generated) s.generate = generated;
      else delete s.generate;
      await writeEncrypted(dir, repo, name, value);
      await saveRepo(dir, repo);
      return s.version;
    });
    printInfo(io, `rotated ${name} (version ${version})`);
  } finally {
    value.fill(0);
  }
}

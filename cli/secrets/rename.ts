// `nixseal secrets rename OLD NEW`: the encrypted file moves to its new name as it is
// (nothing decrypted or re-encrypted) and nixseal.json follows; also fixes a name an
// earlier rule allowed, which loading the repo otherwise refuses.
import { constants } from "node:fs";
import { copyFile, unlink } from "node:fs/promises";
import { NixsealError, type Repo } from "../../core/index.js";
import { unknownSecret } from "../errors.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { saveRepo, secretFile, withLockedRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";

export async function renameSecret(io: CliIo, from: string, to: string): Promise<void> {
  checkSecretName(to);
  const hosts = await withLockedRepo(
    io.cwd,
    async ({ dir, repo }) => {
      const s = repo.secrets[from];
      if (!s) throw unknownSecret(from);
      const clash = Object.keys(repo.secrets).find((n) => n !== from && n.toLowerCase() === to.toLowerCase());
      if (clash !== undefined) {
        throw new NixsealError("NIXSEAL_ERR_SECRET_EXISTS", clash === to ? `secret "${to}" already exists` : `secret "${clash}" differs from "${to}" only in case`, {
          hints: ["pick another new name (names that differ only in case would share one file on a case-insensitive disk)"],
        });
      }
      // The blob first under its new name: a crash before nixseal.json is saved leaves a stray copy, never a listed secret without one.
      await copyFile(secretFile(dir, from), secretFile(dir, to), constants.COPYFILE_EXCL).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "EEXIST") throw new NixsealError("NIXSEAL_ERR_SECRET_EXISTS", `${secretFile(dir, to)} already exists`, { hints: ["remove the stray file (git status shows whether it is tracked) and try again"] });
        throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `${secretFile(dir, from)}: cannot read the encrypted secret`, { cause: err, hints: ["restore it from git"] });
      });
      const renamed: Repo["secrets"] = {};
      for (const [n, v] of Object.entries(repo.secrets)) renamed[n === from ? to : n] = v;
      repo.secrets = renamed;
      await saveRepo(dir, repo);
      await unlink(secretFile(dir, from)).catch(() => {});
      return s.hosts;
    },
    { oldNames: true },
  );
  printInfo(io, `renamed ${from} to ${to}${hosts.length ? `; deploy ${hosts.join(", ")} to apply it (nixseal deploy ${hosts.join(" ")})` : ""}`);
}

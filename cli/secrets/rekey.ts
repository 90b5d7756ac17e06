// `nixseal secrets rekey [NAME…]`: re-encrypt the secrets whose recipient set changed
// (or every one with --all); the work itself is cli/rekey/'s.
import type { Repo } from "../../core/index.js";
import { unknownSecret } from "../errors.js";
import { loadAdminIdentity } from "../identity/index.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { rekey } from "../rekey/index.js";
import { isStale, openRepo, saveRepo, withLockedRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";

export interface RekeyOptions {
  all?: boolean;
  dryRun?: boolean;
  identity?: string;
}

function pickRekey(repo: Repo, names: string[], all?: boolean): string[] {
  for (const n of names) if (!repo.secrets[n]) throw unknownSecret(n, repo);
  const pool = names.length ? names : Object.keys(repo.secrets).sort();
  return all ? pool : pool.filter((n) => isStale(repo, n));
}

export async function rekeyCommand(io: CliIo, names: string[], opts: RekeyOptions): Promise<void> {
  names.forEach(checkSecretName);
  const nothing = "every secret is encrypted to its current recipients; nothing to do";
  if (opts.dryRun) {
    const todo = pickRekey((await openRepo(io.cwd)).repo, names, opts.all);
    for (const n of todo) io.stdout.write(`${n}\n`);
    printInfo(io, todo.length === 0 ? nothing : `${todo.length} to re-encrypt (dry run)`);
    return;
  }
  // One load of nixseal.json, under the lock (a large repo costs ~0.1 s to validate);
  // the admin identity is loaded only when there is something to do.
  let t0 = 0;
  const done = await withLockedRepo(io.cwd, async (loaded) => {
    const list = pickRekey(loaded.repo, names, opts.all);
    if (list.length === 0) return null;
    const admin = await loadAdminIdentity(io, opts.identity);
    t0 = performance.now();
    const outcome = await rekey(loaded, list, admin, { full: opts.all });
    await saveRepo(loaded.dir, loaded.repo);
    return outcome;
  });
  if (done === null) return printInfo(io, nothing);
  // Why a changed set took the full path, one line per reason (a few names each).
  const byReason = new Map<string, string[]>();
  for (const { name, reason } of done.reasons) byReason.set(reason, [...(byReason.get(reason) ?? []), name]);
  for (const [reason, list] of byReason) {
    printInfo(io, `full re-encryption of ${list.length} (${list.slice(0, 5).join(", ")}${list.length > 5 ? ", …" : ""}): ${reason}`);
  }
  const n = done.names.length;
  printInfo(
    io,
    `re-encrypted ${n} secret${n === 1 ? "" : "s"} in ${Math.round(performance.now() - t0)} ms: ${done.added.length} by adding recipients (file key and payload kept), ${done.full.length} in full (fresh file key)`,
  );
}

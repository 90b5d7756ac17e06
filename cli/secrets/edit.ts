// `nixseal secrets edit NAME`: the value in $EDITOR (cleartext on a tmpfs only), re-encrypted
// when it changed. A name that is not in the repo is created from what is saved, given its
// hosts (--host, as `secrets add` takes them), as `agenix -e` does.
import { NixsealError } from "../../core/index.js";
import { editValue } from "../editor.js";
import { secretExists, unknownHost, unknownSecret } from "../errors.js";
import { loadAdminIdentity } from "../identity/index.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { decryptSecret } from "../repo/crypt.js";
import { openRepo, saveRepo, withLockedRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";
import { refusePasswordSecret, storeValue } from "./generated.js";
import { newSecret } from "./add.js";
import { checkForUsers, checkHosts, checkMeta, expandHosts, type MetaOpts } from "./meta.js";
import { now } from "./write.js";

export type EditOptions = MetaOpts & { identity?: string; host?: string[] };

const META_FLAGS: (keyof MetaOpts)[] = ["owner", "group", "mode", "path", "restartUnit", "reloadUnit"];

export async function editSecret(io: CliIo, name: string, opts: EditOptions): Promise<void> {
  checkSecretName(name);
  const before = await openRepo(io.cwd);
  if (!before.repo.secrets[name]) return createSecret(io, name, opts, before.repo);
  const given = [...(opts.host ? ["--host"] : []), ...META_FLAGS.filter((k) => opts[k] !== undefined).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)];
  if (given.length) {
    throw new NixsealError("NIXSEAL_ERR_USAGE", `${given.join(", ")} ${given.length === 1 ? "goes" : "go"} only with a new secret; "${name}" exists`, {
      hints: [`to change its hosts or metadata: nixseal secrets set ${name} ${given[0]} …`],
      exitCode: 2,
    });
  }
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

/** A new secret from an empty editor: created when something non-empty is saved. */
async function createSecret(io: CliIo, name: string, opts: EditOptions, repo: Parameters<typeof expandHosts>[0]): Promise<void> {
  if (!opts.host?.length) {
    const e = unknownSecret(name, repo);
    throw new NixsealError(e.code, `${e.message}; to create it here, name its hosts`, {
      hints: [...e.hints.filter((h) => h.startsWith("did you mean")), `nixseal secrets edit ${name} --host HOST[,HOST…] (and --owner, --mode… as for secrets add)`],
    });
  }
  const wanted = checkHosts(opts.host);
  const meta = checkMeta(io, opts);
  for (const h of expandHosts(repo, wanted)) if (!repo.hosts[h]) throw unknownHost(h, repo);
  const created = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
    if (repo.secrets[name]) throw secretExists(name);
    const hosts = expandHosts(repo, wanted);
    for (const h of hosts) if (!repo.hosts[h]) throw unknownHost(h, repo);
    const edited = await editValue(io, name, new Uint8Array(0));
    if (!edited) return null;
    try {
      repo.secrets[name] = newSecret(hosts, meta);
      checkForUsers(name, repo.secrets[name]!);
      await storeValue(dir, repo, name, { value: edited });
      await saveRepo(dir, repo);
      return hosts;
    } finally {
      edited.fill(0);
    }
  });
  printInfo(io, created === null ? `${name} not created: nothing was saved` : `added ${name} (version 1) for ${created.join(", ")}`);
}

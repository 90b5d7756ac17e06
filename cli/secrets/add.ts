// `nixseal secrets add NAME --host H…`: a new secret, encrypted to its hosts and the admins.
import type { RepoSecret } from "../../core/index.js";
import { secretExists, unknownHost } from "../errors.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { printGenerated } from "./show.js";
import { openRepo, saveRepo, withLockedRepo } from "../repo/index.js";
import { checkRepoPaths, checkSecretName } from "../repo/validate.js";
import { readValue, type ValueOptions } from "../values.js";
import { passwordSecretFor, storeValue, wipe } from "./generated.js";
import { checkForUsers, checkHosts, checkMeta, defaultGroup, expandHosts, type Meta, type MetaOpts } from "./meta.js";
import { now } from "./write.js";

export type AddOptions = MetaOpts & ValueOptions & { host?: string[] };

/** A new secret's entry (version 1) from its hosts and checked metadata, with the defaults. */
export function newSecret(hosts: string[], meta: Meta): RepoSecret {
  const secret: RepoSecret = {
    hosts,
    owner: meta.owner ?? "root",
    ...defaultGroup(meta),
    mode: meta.mode ?? "0400",
    restartUnits: meta.restartUnits ?? [],
    reloadUnits: meta.reloadUnits ?? [],
    version: 1,
    updatedAt: now(),
  };
  if (meta.path) secret.path = meta.path;
  if (meta.neededBy?.length) secret.neededBy = meta.neededBy;
  if (meta.neededForUsers) secret.neededForUsers = true;
  return secret;
}

export async function addSecret(io: CliIo, name: string, opts: AddOptions): Promise<void> {
  checkSecretName(name);
  const wanted = checkHosts(opts.host ?? []);
  const meta = checkMeta(io, opts);
  const before = await openRepo(io.cwd);
  if (before.repo.secrets[name]) throw secretExists(name);
  const hosts = expandHosts(before.repo, wanted);
  for (const h of hosts) if (!before.repo.hosts[h]) throw unknownHost(h, before.repo);
  // before the value is asked for: a path another secret of these hosts has is refused now
  if (meta.path) checkRepoPaths({ ...before.repo, secrets: { ...before.repo.secrets, [name]: { hosts, path: meta.path } } }, hosts);
  const v = await readValue(io, opts, undefined, `secrets add ${name} --host ${wanted.join(",")}`, name);
  try {
    const version = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
      if (repo.secrets[name]) throw secretExists(name);
      for (const h of expandHosts(repo, wanted)) if (!repo.hosts[h]) throw unknownHost(h, repo);
      passwordSecretFor(repo, name, v.generated);
      const secret = newSecret(hosts, meta);
      checkForUsers(name, secret);
      repo.secrets[name] = secret;
      checkRepoPaths(repo, hosts); // under the lock, before any file is written
      await storeValue(dir, repo, name, v);
      await saveRepo(dir, repo);
      return secret.version;
    });
    printInfo(io, `added ${name} (version ${version}) for ${hosts.join(", ")}`);
    printGenerated(io, name, v);
  } finally {
    wipe(v);
  }
}


// `nixseal secrets set NAME …`: metadata changes; a change of hosts re-encrypts it.
import { NixsealError, type Repo } from "../../core/index.js";
import { unknownHost, unknownSecret, usageError } from "../errors.js";
import { loadAdminIdentity, type AdminIdentity } from "../identity/index.js";
import type { CliIo } from "../io.js";
import { printInfo } from "../output.js";
import { rekeySecrets } from "../rekey/index.js";
import { openRepo, saveRepo, withLockedRepo } from "../repo/index.js";
import { checkRepoPaths, checkSecretName } from "../repo/validate.js";
import { checkAllTemplates } from "../templates/check.js";
import { refusePasswordSecret } from "./generated.js";
import { checkForUsers, checkHosts, checkMeta, expandHosts, type MetaOpts } from "./meta.js";

export type SetOptions = MetaOpts & { host?: string[]; addHost?: string[]; rmHost?: string[]; identity?: string };

function applyHostEdits(repo: Repo, name: string, e: { set?: string[]; add?: string[]; rm?: string[] }): string[] {
  const s = repo.secrets[name];
  if (!s) throw unknownSecret(name, repo);
  e = { set: e.set && expandHosts(repo, e.set), add: e.add && expandHosts(repo, e.add), rm: e.rm && expandHosts(repo, e.rm) };
  let hosts = e.set ?? [...s.hosts];
  for (const h of [...(e.set ?? []), ...(e.add ?? [])]) if (!repo.hosts[h]) throw unknownHost(h, repo);
  for (const h of e.rm ?? []) {
    if (!hosts.includes(h)) throw new NixsealError("NIXSEAL_ERR_UNKNOWN_HOST", `secret "${name}" is not for host "${h}"`, { hints: [`its hosts: ${hosts.join(", ") || "none"}`] });
  }
  hosts = [...new Set([...hosts, ...(e.add ?? [])])].filter((h) => !(e.rm ?? []).includes(h));
  return hosts;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export async function setSecret(io: CliIo, name: string, opts: SetOptions): Promise<void> {
  checkSecretName(name);
  const meta = checkMeta(io, opts);
  const hostEdits = { set: opts.host && checkHosts(opts.host, true), add: opts.addHost && checkHosts(opts.addHost), rm: opts.rmHost && checkHosts(opts.rmHost) };
  const before = await openRepo(io.cwd);
  const planned = applyHostEdits(before.repo, name, hostEdits);
  // A generated password is the admins' alone: it goes to no host.
  if (planned.length) refusePasswordSecret(before.repo, name, "given to a host");
  const hostsChange = !sameSet(planned, before.repo.secrets[name]!.hosts);
  if (!hostsChange && Object.values(meta).every((v) => v === undefined) && opts.path === undefined && opts.neededForUsers === undefined) {
    throw usageError("nothing to change", ["give --owner, --group, --mode, --path, --host/--add-host/--rm-host, units, --needed-by or --needed-for-users"]);
  }
  // the metadata as it will be, checked before any key is asked for
  const next = { ...before.repo.secrets[name]!, hosts: planned, ...(meta.path ? { path: meta.path } : {}) };
  if (opts.path === false) delete next.path;
  checkRepoPaths({ ...before.repo, secrets: { ...before.repo.secrets, [name]: next } }, planned);
  const admin: AdminIdentity | undefined = hostsChange ? await loadAdminIdentity(io, opts.identity) : undefined;
  const rekeyed = await withLockedRepo(io.cwd, async (loaded) => {
    const s = loaded.repo.secrets[name];
    if (!s) throw unknownSecret(name, loaded.repo);
    const hosts = applyHostEdits(loaded.repo, name, hostEdits);
    const changed = !sameSet(hosts, s.hosts);
    s.hosts = hosts;
    if (meta.owner !== undefined) s.owner = meta.owner;
    if (meta.group !== undefined) s.group = meta.group;
    if (meta.mode !== undefined) s.mode = meta.mode;
    if (meta.path) s.path = meta.path;
    if (opts.path === false) delete s.path;
    if (meta.restartUnits) s.restartUnits = meta.restartUnits;
    if (meta.reloadUnits) s.reloadUnits = meta.reloadUnits;
    if (meta.neededBy) {
      if (meta.neededBy.length) s.neededBy = meta.neededBy;
      else delete s.neededBy;
    }
    if (opts.neededForUsers === true) s.neededForUsers = true;
    if (opts.neededForUsers === false) delete s.neededForUsers;
    checkForUsers(name, s);
    checkRepoPaths(loaded.repo, s.hosts); // under the lock, before anything is re-encrypted
    // Only this command's host change re-encrypts; an older staleness is for "secrets rekey".
    // Before any blob is re-encrypted: a host change that would break a template changes nothing.
    if (changed) await checkAllTemplates(loaded.dir, loaded.repo);
    const done = changed ? await rekeySecrets(loaded, [name], admin ?? (await loadAdminIdentity(io, opts.identity))) : [];
    await saveRepo(loaded.dir, loaded.repo);
    return done.length > 0;
  });
  printInfo(io, `updated ${name}${rekeyed ? " and re-encrypted it to its hosts" : ""}`);
}

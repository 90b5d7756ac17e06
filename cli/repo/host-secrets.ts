// hosts/<name>/nixseal-secrets.json, what each host's NixOS system is built for
// (core/schema/host-secrets.ts): made from nixseal.json, written by saveRepo after
// every change, checked by deploy before it ships a config.
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { HOST_SECRETS_FILE, formatHostSecrets, makeHostSecrets, writeFileAtomic, type HostSecret, type HostSecrets, type HostTemplate, type Repo, type RepoSecret, type RepoTemplate } from "../../core/index.js";
import { hostConfigDir } from "./paths.js";
import { secretsForHost, templatesForHost } from "./recipients.js";

/** An entry of the generated file: what the host applies for a secret or a rendered template. */
function entryOf(s: RepoSecret | RepoTemplate): HostTemplate {
  return { owner: s.owner, group: s.group ?? null, mode: s.mode, path: s.path ?? null, restartUnits: s.restartUnits, reloadUnits: s.reloadUnits, neededBy: s.neededBy ?? [], neededForUsers: false };
}

/** The generated file's content for one host, from the repo: its secrets and the templates it renders. */
export function hostSecretsFor(repo: Repo, host: string): HostSecrets {
  const secrets: Record<string, HostSecret> = {};
  for (const name of secretsForHost(repo, host)) secrets[name] = { ...entryOf(repo.secrets[name]!), neededForUsers: repo.secrets[name]!.neededForUsers === true };
  const templates: Record<string, HostTemplate> = {};
  for (const name of templatesForHost(repo, host)) templates[name] = entryOf(repo.templates![name]!);
  return makeHostSecrets(host, secrets, templates);
}

/** Where a host's generated file goes: its config dir. */
export function hostSecretsPath(repoDir: string, repo: Repo, host: string): string {
  return join(hostConfigDir(repoDir, repo, host), HOST_SECRETS_FILE);
}

/**
 * Rewrites the generated file of every host that has a config dir (a NixOS host;
 * a plain systemd host has none and needs none), only where the content changed.
 * With `create`, the config dirs of the named hosts are made first.
 *
 * @returns the files written, relative to the repo
 */
export async function syncHostSecretsFiles(repoDir: string, repo: Repo, opts: { create?: string[] } = {}): Promise<string[]> {
  const written: string[] = [];
  for (const host of Object.keys(repo.hosts).sort()) {
    const dir = hostConfigDir(repoDir, repo, host);
    if (opts.create?.includes(host)) await mkdir(dir, { recursive: true });
    if (!existsSync(dir)) continue;
    const file = join(dir, HOST_SECRETS_FILE);
    const text = formatHostSecrets(hostSecretsFor(repo, host));
    const old = await readFile(file, "utf8").catch(() => undefined);
    if (old === text) continue;
    await writeFileAtomic(file, text, 0o644);
    written.push(relative(repoDir, file));
  }
  return written;
}

/**
 * Why a host's generated file no longer matches the repo, or null when it does
 * (or when the host has no config dir).
 */
export async function staleHostSecrets(repoDir: string, repo: Repo, host: string): Promise<string | null> {
  if (!existsSync(hostConfigDir(repoDir, repo, host))) return null;
  const file = hostSecretsPath(repoDir, repo, host);
  const old = await readFile(file, "utf8").catch(() => undefined);
  if (old === undefined) return `${relative(repoDir, file)} is missing`;
  if (old !== formatHostSecrets(hostSecretsFor(repo, host))) return `${relative(repoDir, file)} does not match nixseal.json`;
  return null;
}

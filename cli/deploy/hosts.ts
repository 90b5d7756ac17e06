// What deploy, status and rollback share: picking hosts from the repo, what the repo
// wants on each, and the closing summary with the exit code.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { NixsealError, type Repo, type RepoHost } from "../../core/index.js";
import type { CliIo } from "../io.js";
import { printErrorBody, printJson } from "../output.js";
import { hostsOf, secretsForHost, type LoadedRepo } from "../repo/index.js";
import { selectHostNames } from "../repo/select.js";
import type { WantedSecret } from "./compare.js";
import type { HostJob } from "./host-deploy.js";
import { summaryLine } from "./progress.js";
import type { HostResult } from "./steps.js";

/** Options shared by deploy, status and rollback. */
export interface RunOptions {
  /** Host selectors: operands plus --on (names, @tags, globs). */
  hosts: string[];
  parallel: number;
  json: boolean;
  sshKey?: string;
  waitSeconds: number;
}

/**
 * The hosts the operands name (names, @tags, globs; see cli/repo/select.ts), all when
 * none is given.
 */
export function selectHosts(repo: Repo, names: string[]): string[] {
  const all = hostsOf(repo);
  if (names.length === 0) {
    if (all.length === 0) throw new NixsealError("NIXSEAL_ERR_DEPLOY_NO_HOSTS", "the repo has no hosts", { hints: ['add one with "nixseal host add NAME --target root@ADDRESS --scan"'] });
    return all;
  }
  return selectHostNames(repo, names);
}

/**
 * A host whose default config dir (hosts/NAME) does not exist has no NixOS config in
 * this repo (a plain systemd host): deploy ships its secrets only. An explicitly set
 * configDir that is missing stays an error.
 */
export function withoutConfig(job: Pick<HostJob, "host" | "configDir">): boolean {
  return job.host.configDir === undefined && !existsSync(job.configDir);
}

/** The secrets the repo wants on a host. */
export function wantedSecrets(loaded: LoadedRepo, host: string, bundle?: { secrets: { name: string; sha256: string }[] }): WantedSecret[] {
  const sha = new Map((bundle?.secrets ?? []).map((s) => [s.name, s.sha256]));
  return secretsForHost(loaded.repo, host).map((name) => {
    const s = loaded.repo.secrets[name]!;
    return { name, version: s.version, sha256: sha.get(name), owner: s.owner, group: s.group, mode: s.mode };
  });
}

/** Prints the summary (or the JSON) and returns the exit code: 1 when any host failed. */
export function finish(io: CliIo, command: string, results: HostResult[], json: boolean): number {
  const failed = results.filter((r) => !r.ok);
  if (json) printJson(io, { command, ok: failed.length === 0, hosts: results });
  else {
    io.stderr.write(`nixseal: ${command}: ${results.length - failed.length} of ${results.length} host(s) ok\n`);
    for (const r of failed) printErrorBody(io, { code: r.error?.code ?? "NIXSEAL_ERR_INTERNAL", message: summaryLine(r), hints: r.error?.hints ?? [] });
  }
  return failed.length ? 1 : 0;
}

/** A key path as written by a person: "~/" is their home, relative is against base. */
export function resolveKeyPath(path: string | undefined, base: string, env: Record<string, string | undefined>): string | undefined {
  if (path === undefined) return undefined;
  if (path === "~" || path.startsWith("~/")) return join(env.HOME ?? homedir(), path.slice(1));
  return isAbsolute(path) ? path : resolve(base, path);
}

/**
 * A host's entry with its sshKey resolved: nixseal.json is shared, so a relative key
 * path there is relative to the repo.
 */
export function hostEntry(loaded: LoadedRepo, name: string, env: Record<string, string | undefined>): RepoHost {
  const host = loaded.repo.hosts[name]!;
  const sshKey = resolveKeyPath(host.sshKey, loaded.dir, env);
  return sshKey === undefined ? host : { ...host, sshKey };
}

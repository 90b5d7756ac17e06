// `nixseal secrets list [--host H] [--json]`: names and metadata, never values.
import { ownerAndGroup, type Repo } from "../../core/index.js";
import { unknownHost } from "../errors.js";
import type { CliIo } from "../io.js";
import { printJson, printTable } from "../output.js";
import { isStale, openRepo } from "../repo/index.js";

function staleOrBroken(repo: Repo, name: string): boolean {
  try {
    return isStale(repo, name);
  } catch {
    return true;
  }
}

export async function listSecrets(io: CliIo, opts: { host?: string; json?: boolean }): Promise<void> {
  const { repo } = await openRepo(io.cwd);
  if (opts.host !== undefined && !repo.hosts[opts.host]) throw unknownHost(opts.host, repo);
  const rows = Object.keys(repo.secrets)
    .sort()
    .filter((n) => opts.host === undefined || repo.secrets[n]!.hosts.includes(opts.host))
    .map((n) => {
      const s = repo.secrets[n]!;
      return { name: n, hosts: s.hosts, owner: s.owner, group: s.group ?? null, mode: s.mode, path: s.path ?? null, restartUnits: s.restartUnits, reloadUnits: s.reloadUnits, version: s.version, updatedAt: s.updatedAt, generate: s.generate ?? null, needsRekey: staleOrBroken(repo, n) };
    });
  if (opts.json) return printJson(io, rows);
  printTable(
    io,
    ["NAME", "VERSION", "FILE", "HOSTS", "STATE"],
    rows.map((r) => [r.name, `v${r.version}`, `${r.mode} ${ownerAndGroup(r.owner, r.group)}`, r.hosts.join(",") || "-", r.needsRekey ? "(needs rekey)" : "ok"]),
  );
}

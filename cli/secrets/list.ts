// `nixseal secrets list [--host H] [--json]`: names and metadata, never values.
import type { Repo } from "../../core/index.js";
import { unknownHost } from "../errors.js";
import type { CliIo } from "../io.js";
import { printJson } from "../output.js";
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
  if (opts.host !== undefined && !repo.hosts[opts.host]) throw unknownHost(opts.host);
  const rows = Object.keys(repo.secrets)
    .sort()
    .filter((n) => opts.host === undefined || repo.secrets[n]!.hosts.includes(opts.host))
    .map((n) => {
      const s = repo.secrets[n]!;
      return { name: n, hosts: s.hosts, owner: s.owner, group: s.group, mode: s.mode, path: s.path ?? null, restartUnits: s.restartUnits, reloadUnits: s.reloadUnits, version: s.version, updatedAt: s.updatedAt, generate: s.generate ?? null, needsRekey: staleOrBroken(repo, n) };
    });
  if (opts.json) return printJson(io, rows);
  for (const r of rows) {
    io.stdout.write(`${r.name}\tv${r.version}\t${r.mode} ${r.owner}:${r.group}\t${r.hosts.join(",") || "-"}${r.needsRekey ? "\t(needs rekey)" : ""}\n`);
  }
}

// `nixseal import agenix DIR`: an agenix repo becomes a nixseal repo without decrypting
// anything. secrets.nix's keys are mapped to hosts and admins; every .age file is kept
// byte for byte (any age implementation opens it, as before); a file whose recipients
// differ from what nixseal would encrypt it to (its hosts plus every admin) is listed
// for `nixseal secrets rekey`.
import { mkdir, readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import {
  NixsealError,
  REPO_FORMAT,
  canonicalRecipient,
  dearmor,
  isArmored,
  parseHeader,
  parseRecipient,
  recipientLabel,
  stanzaLabel,
  writeFileAtomic,
  type Repo,
} from "../../../core/index.js";
import type { CliIo } from "../../io.js";
import { checkMode } from "../../mode-policy.js";
import { printInfo, printWarning } from "../../output.js";
import { findRepo, isStale, loadRepo, recordRecipientSet, repoFile, saveRepo, secretFile, secretsDir, withRepoLock } from "../../repo/index.js";
import { checkPath, checkPrincipal, checkSecretName } from "../../repo/validate.js";
import { readAgeSecretsExport, type AgeSecretMeta } from "./age-secrets.js";
import { askRoles, keyLabel, readKeyMap, type KeyRole } from "./key-map.js";
import { readAgenixRules, RULES_FILE, type AgenixRule } from "./secrets-nix.js";
import { where } from "../where.js";
import { usageError } from "../../errors.js";

interface AgenixImportOptions {
  map?: string;
  /** --age-secrets HOST=FILE: a host's exported age.secrets. */
  ageSecrets: Map<string, string>;
  renames: Map<string, string>;
  allowWorldReadable?: boolean;
  dryRun?: boolean;
}

interface PlannedFile {
  rule: AgenixRule;
  name: string;
  blob: Buffer;
  hosts: string[];
  canonicalKeys: string[];
  /** The file's stanzas are exactly secrets.nix's keys (else rekey cannot trust the list). */
  headerMatches: boolean;
  owner: string;
  group: string;
  mode: string;
  path?: string;
}

/** Whether the file's stanzas are for exactly these recipients (ssh by key tag, X25519 by count). */
async function headerMatches(blob: Buffer, keys: string[], file: string): Promise<boolean> {
  let header;
  try {
    header = parseHeader(isArmored(blob) ? dearmor(blob) : blob);
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_AGENIX_FILE", `${file}: not an age file: ${(err as Error).message}`, { hints: ["restore it from git; nothing was changed"] });
  }
  const count = (labels: string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const l of labels) if (l === "X25519" || l.startsWith("ssh-")) m.set(l, (m.get(l) ?? 0) + 1);
    return m;
  };
  const want = count((await Promise.all(keys.map((k) => parseRecipient(k, file)))).map((r) => recipientLabel(r) ?? "?"));
  const have = count(header.stanzas.map(stanzaLabel));
  return want.size === have.size && [...want].every(([l, n]) => have.get(l) === n);
}

function metaFor(rule: AgenixRule, hosts: string[], exports: Map<string, Map<string, AgeSecretMeta>>): AgeSecretMeta | undefined {
  const found = hosts.map((h) => exports.get(h)?.get(basename(rule.file))).filter((m): m is AgeSecretMeta => m !== undefined);
  for (const m of found.slice(1)) {
    const a = found[0]!;
    if (a.owner !== m.owner || a.group !== m.group || a.mode !== m.mode || a.path !== m.path) {
      throw new NixsealError("NIXSEAL_ERR_AGENIX_RULES", `${rule.file} has another owner, group, mode or path in ${m.from} than in ${a.from}`, {
        hints: ["nixseal gives a secret one owner, group, mode and path on all its hosts: make them agree, or split it into two files"],
      });
    }
  }
  return found[0];
}

async function plan(io: CliIo, dir: string, opts: AgenixImportOptions): Promise<{ files: PlannedFile[]; roles: Map<string, KeyRole> }> {
  const rules = await readAgenixRules(io, dir);
  const roles = opts.map ? await readKeyMap(io, opts.map) : new Map<string, KeyRole>();
  const exports = new Map<string, Map<string, AgeSecretMeta>>();
  for (const [host, file] of opts.ageSecrets) exports.set(host, await readAgeSecretsExport(io, file));
  const unmapped = new Map<string, { line: string; files: string[] }>();
  const canonicalOf = new Map<string, string>();
  for (const rule of rules) {
    for (const k of rule.publicKeys) {
      const c = where(`${RULES_FILE}: "${rule.file}"`, () => {
        try {
          return canonicalRecipient(k);
        } catch (err) {
          throw new NixsealError("NIXSEAL_ERR_AGENIX_RULES", `a public key nixseal cannot use: ${(err as Error).message}`, { hints: ["nixseal encrypts to ssh-ed25519, ssh-rsa and age1… keys"] });
        }
      });
      canonicalOf.set(k, c);
      if (!roles.has(c)) unmapped.set(c, { line: k.trim(), files: [...(unmapped.get(c)?.files ?? []), rule.file] });
    }
  }
  await askRoles(io, unmapped, roles);
  for (const host of opts.ageSecrets.keys()) {
    if (![...roles.values()].some((r) => r.kind === "host" && r.name === host)) {
      throw usageError(`--age-secrets ${host}=…: no key of ${RULES_FILE} maps to host ${host}`);
    }
  }
  const files: PlannedFile[] = [];
  const names = new Map<string, string>();
  for (const rule of rules) {
    const label = `${RULES_FILE}: "${rule.file}"`;
    const base = basename(rule.file).replace(/\.age$/, "");
    const name = where(label, () => checkSecretName(opts.renames.get(base) ?? base));
    if (names.has(name)) {
      throw new NixsealError("NIXSEAL_ERR_AGENIX_RULES", `${rule.file} and ${names.get(name)} would both become secret ${name}`, { hints: [`import one under another name: --rename ${base}=NEW`] });
    }
    names.set(name, rule.file);
    const path = resolve(dir, rule.file);
    let blob: Buffer;
    try {
      blob = await readFile(path);
    } catch (err) {
      throw new NixsealError("NIXSEAL_ERR_AGENIX_FILE", `${label} names ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`, {
        hints: ["restore the file from git, or remove its entry from secrets.nix"],
      });
    }
    const canonicalKeys = [...new Set(rule.publicKeys.map((k) => canonicalOf.get(k)!))];
    const hosts = [...new Set(canonicalKeys.map((c) => roles.get(c)!).filter((r) => r.kind === "host").map((r) => r.name))].sort();
    const meta = metaFor(rule, hosts, exports);
    const mode = where(label, () => checkMode(meta?.mode ?? "0400", { allowWorld: opts.allowWorldReadable }));
    for (const w of mode.warnings) printWarning(io, `${label}: ${w}`);
    files.push({
      rule,
      name,
      blob,
      hosts,
      canonicalKeys,
      headerMatches: await headerMatches(blob, rule.publicKeys, path),
      owner: where(label, () => checkPrincipal(meta?.owner ?? "root")),
      group: where(label, () => checkPrincipal(meta?.group ?? "root")),
      mode: mode.mode,
      ...(meta?.path ? { path: where(label, () => checkPath(meta.path!)) } : {}),
    });
  }
  for (const old of opts.renames.keys()) {
    if (!rules.some((r) => basename(r.file).replace(/\.age$/, "") === old)) {
      throw usageError(`--rename ${old}=…: ${RULES_FILE} has no ${old}.age`);
    }
  }
  return { files, roles };
}

/** Adds the plan to repo (a new one, or the one found); throws on any name or key collision. */
function merge(repo: Repo, files: PlannedFile[], roles: Map<string, KeyRole>): void {
  const now = new Date().toISOString();
  for (const r of roles.values()) {
    if (r.kind === "host") {
      const existing = repo.hosts[r.name];
      if (existing && canonicalRecipient(existing.hostKey) !== canonicalRecipient(r.line)) {
        throw new NixsealError("NIXSEAL_ERR_HOST_EXISTS", `host ${r.name} is already in this repo with another key`, { hints: ["map the key to another host name, or fix the host: nixseal host set-key"] });
      }
      repo.hosts[r.name] ??= { target: r.target, hostKey: r.line };
    } else if (!repo.admins.some((a) => canonicalRecipient(a.recipient) === canonicalRecipient(r.line))) {
      repo.admins.push({ name: r.name, recipient: r.line });
    }
  }
  for (const f of files) {
    if (repo.secrets[f.name]) {
      throw new NixsealError("NIXSEAL_ERR_SECRET_EXISTS", `secret ${f.name} is already in this repo`, { hints: [`import it under another name: --rename ${f.name}=NEW`] });
    }
    repo.secrets[f.name] = {
      hosts: f.hosts,
      owner: f.owner,
      group: f.group,
      mode: f.mode,
      ...(f.path ? { path: f.path } : {}),
      restartUnits: [],
      reloadUnits: [],
      version: 1,
      updatedAt: now,
      // What the blob holds, so rekey can add or drop recipients; unknown when the
      // file disagrees with secrets.nix (rekey then re-encrypts it whole).
      ...(f.headerMatches ? { encryptedTo: recordRecipientSet(repo, f.canonicalKeys) } : {}),
    };
  }
}

/**
 * Runs the import (or the dry run) into the repo at or above cwd, or a new one in cwd.
 *
 * @returns the names of the secrets that need `secrets rekey`
 */
export async function importAgenix(io: CliIo, dirArg: string, opts: AgenixImportOptions): Promise<string[]> {
  const dir = resolve(io.cwd, dirArg);
  const { files, roles } = await plan(io, dir, opts);
  const repoDir = await findRepo(io.cwd).catch((err: unknown) => {
    if (err instanceof NixsealError && err.code === "NIXSEAL_ERR_NO_REPO") return null;
    throw err;
  });
  const build = async (existing: Repo | null): Promise<Repo> => {
    const repo: Repo = existing ?? { format: REPO_FORMAT, admins: [], hosts: {}, secrets: {} };
    merge(repo, files, roles);
    return repo;
  };
  const report = (repo: Repo): string[] => files.filter((f) => isStale(repo, f.name)).map((f) => f.name);
  if (opts.dryRun) {
    const repo = await build(repoDir ? (await loadRepo(repoDir)).repo : null);
    const out: string[] = [`would ${repoDir ? `add to ${repoFile(repoDir)}` : `create ${repoFile(io.cwd)}`}:`];
    for (const r of [...roles.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) out.push(r.kind === "host" ? `host ${r.name}  ${r.target}  ${keyLabel(r.line)}` : `admin ${r.name}  ${keyLabel(r.line)}`);
    const stale = new Set(report(repo));
    for (const f of files) out.push(`secret ${f.name}  from ${f.rule.file}  ${f.owner}:${f.group} ${f.mode}  hosts ${f.hosts.join(",") || "-"}${f.path ? `  path ${f.path}` : ""}${stale.has(f.name) ? "  (needs rekey)" : ""}`);
    io.stdout.write(out.join("\n") + "\n");
    printInfo(io, "dry run: nothing was changed");
    return [...stale];
  }
  const target = repoDir ?? resolve(io.cwd);
  const stale = await withRepoLock(target, async () => {
    const repo = await build(repoDir ? (await loadRepo(target)).repo : null);
    await mkdir(secretsDir(target), { recursive: true });
    // Blobs first, then nixseal.json: a leftover blob is harmless, a listed secret without one is not.
    for (const f of files) await writeFileAtomic(secretFile(target, f.name), f.blob, 0o644);
    await saveRepo(target, repo);
    return report(repo);
  });
  for (const f of files) printInfo(io, `secret ${f.name}  from ${f.rule.file}  hosts ${f.hosts.join(",") || "-"}  (kept as it is)`);
  const hosts = [...roles.values()].filter((r) => r.kind === "host").length;
  printInfo(io, `imported ${files.length} secret${files.length === 1 ? "" : "s"}, ${hosts} host${hosts === 1 ? "" : "s"} and ${roles.size - hosts} admin${roles.size - hosts === 1 ? "" : "s"} into ${repoFile(target)}; no file was re-encrypted`);
  const mismatched = files.filter((f) => !f.headerMatches).map((f) => f.name);
  if (mismatched.length) printWarning(io, `encrypted to other keys than ${RULES_FILE} lists (agenix --rekey was not run after a change): ${mismatched.join(", ")}`);
  if (stale.length) {
    printWarning(io, `${stale.length} secret${stale.length === 1 ? " is" : "s are"} encrypted to other recipients than nixseal uses (its hosts plus every admin): ${stale.join(", ")}`);
    printInfo(io, 'hint: run "nixseal secrets rekey" with an admin key that opens them (-i ~/.ssh/id_ed25519)');
  }
  return stale;
}

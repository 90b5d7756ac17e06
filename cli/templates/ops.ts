// `nixseal template add|set|rm|list`: templates in the repo (templates/<name> plus
// their metadata in nixseal.json). No value is read or written here: a template holds
// placeholders, and the host renders it.
import { mkdir, readFile, unlink } from "node:fs/promises";
import { resolve } from "node:path";
import { NixsealError, ownerAndGroup, writeFileAtomic, type RepoTemplate } from "../../core/index.js";
import { unknownHost, usageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { printInfo, printJson } from "../output.js";
import { openRepo, saveRepo, templateFile, templatesDir, withLockedRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";
import { checkHosts, checkMeta, defaultGroup, expandHosts, type MetaOpts } from "../secrets/meta.js";
import { now } from "../secrets/write.js";
import { checkTemplateText } from "./check.js";

/** A template is never restored before users (it is rendered after the secrets). */
type TemplateMetaOpts = Omit<MetaOpts, "neededForUsers">;
export type TemplateAddOptions = TemplateMetaOpts & { host: string[]; fromFile: string };
export type TemplateSetOptions = TemplateMetaOpts & { fromFile?: string; addHost?: string[]; rmHost?: string[] };

function unknownTemplate(name: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_UNKNOWN_TEMPLATE", `no template named "${name}"`, { hints: ['run "nixseal template list" to see them'] });
}

async function readText(io: CliIo, file: string): Promise<Buffer> {
  try {
    return await readFile(resolve(io.cwd, file));
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `cannot read --from-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

export async function addTemplate(io: CliIo, name: string, opts: TemplateAddOptions): Promise<void> {
  checkSecretName(name);
  const wanted = checkHosts(opts.host);
  const meta = checkMeta(io, opts);
  const text = await readText(io, opts.fromFile);
  const { hosts, uses } = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
    if (repo.templates?.[name]) throw new NixsealError("NIXSEAL_ERR_TEMPLATE_EXISTS", `template "${name}" already exists`, { hints: [`change it: nixseal template set ${name} --from-file FILE`] });
    if (repo.secrets[name]) throw new NixsealError("NIXSEAL_ERR_TEMPLATE_EXISTS", `${name} is a secret's name; a template's file shares /run/keys with the secrets`, { hints: ["give the template another name"] });
    const hosts = expandHosts(repo, wanted);
    for (const h of hosts) if (!repo.hosts[h]) throw unknownHost(h, repo);
    const checked = checkTemplateText(repo, name, text, hosts);
    const t: RepoTemplate = {
      hosts,
      owner: meta.owner ?? "root",
      ...defaultGroup(meta),
      mode: meta.mode ?? "0400",
      ...(meta.path ? { path: meta.path } : {}),
      restartUnits: meta.restartUnits ?? [],
      reloadUnits: meta.reloadUnits ?? [],
      ...(meta.neededBy?.length ? { neededBy: meta.neededBy } : {}),
      version: 1,
      updatedAt: now(),
    };
    await mkdir(templatesDir(dir), { recursive: true });
    await writeFileAtomic(templateFile(dir, name), text, 0o644);
    (repo.templates ??= {})[name] = t;
    await saveRepo(dir, repo);
    return { hosts, uses: checked.uses };
  });
  printInfo(io, `added template ${name} for ${hosts.join(", ")}; it uses ${uses.join(", ") || "no secret"}`);
}

export async function setTemplate(io: CliIo, name: string, opts: TemplateSetOptions): Promise<void> {
  checkSecretName(name);
  const meta = checkMeta(io, opts);
  const addWanted = opts.addHost ? checkHosts(opts.addHost) : [];
  const rmWanted = opts.rmHost ? checkHosts(opts.rmHost) : [];
  const text = opts.fromFile === undefined ? undefined : await readText(io, opts.fromFile);
  if (text === undefined && !addWanted.length && !rmWanted.length && Object.values(meta).every((v) => v === undefined) && opts.path === undefined) {
    throw usageError("nothing to change", ["give --from-file, --add-host/--rm-host, --owner, --group, --mode, --path, units or --needed-by"]);
  }
  const version = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
    const t = repo.templates?.[name];
    if (!t) throw unknownTemplate(name);
    const add = expandHosts(repo, addWanted);
    const rm = expandHosts(repo, rmWanted);
    for (const h of add) if (!repo.hosts[h]) throw unknownHost(h, repo);
    t.hosts = [...new Set([...t.hosts, ...add])].filter((h) => !rm.includes(h));
    if (meta.owner !== undefined) t.owner = meta.owner;
    if (meta.group !== undefined) t.group = meta.group;
    if (meta.mode !== undefined) t.mode = meta.mode;
    if (meta.path) t.path = meta.path;
    if (opts.path === false) delete t.path;
    if (meta.restartUnits) t.restartUnits = meta.restartUnits;
    if (meta.reloadUnits) t.reloadUnits = meta.reloadUnits;
    if (meta.neededBy) {
      if (meta.neededBy.length) t.neededBy = meta.neededBy;
      else delete t.neededBy;
    }
    t.version += 1;
    t.updatedAt = now();
    if (text !== undefined) {
      checkTemplateText(repo, name, text, t.hosts);
      await writeFileAtomic(templateFile(dir, name), text, 0o644);
    }
    await saveRepo(dir, repo); // checks the template against its (new) hosts
    return t.version;
  });
  printInfo(io, `updated template ${name} (version ${version})`);
}

export async function removeTemplate(io: CliIo, name: string): Promise<void> {
  checkSecretName(name);
  await withLockedRepo(io.cwd, async ({ dir, repo }) => {
    if (!repo.templates?.[name]) throw unknownTemplate(name);
    delete repo.templates[name];
    await saveRepo(dir, repo);
    await unlink(templateFile(dir, name)).catch(() => {});
  });
  printInfo(io, `removed template ${name}; hosts drop it at their next deploy`);
}

export async function listTemplates(io: CliIo, opts: { json?: boolean }): Promise<void> {
  const { dir, repo } = await openRepo(io.cwd);
  const rows = await Promise.all(
    Object.keys(repo.templates ?? {})
      .sort()
      .map(async (name) => {
        const t = repo.templates![name]!;
        const { uses } = checkTemplateText(repo, name, await readFile(templateFile(dir, name)), t.hosts);
        return { name, ...t, path: t.path ?? null, neededBy: t.neededBy ?? [], uses };
      }),
  );
  if (opts.json) return printJson(io, rows);
  for (const r of rows) io.stdout.write(`${r.name}\tv${r.version}\t${r.mode} ${ownerAndGroup(r.owner, r.group)}\t${r.hosts.join(",") || "-"}\tuses ${r.uses.join(",") || "-"}\n`);
}

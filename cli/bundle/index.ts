// A host's bundle: manifest.json plus that host's .age files, copied from the repo as
// they are (ciphertext only; nothing is decrypted or re-encrypted here). Written by
// `nixseal bundle HOST --out DIR` and by deploy into its staging dir.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { BUNDLE_MANIFEST, NixsealError, writeFileAtomic, type BundleManifest, type BundleSecret, type BundleTemplate } from "../../core/index.js";
import { loadTemplate } from "../templates/check.js";
import { isStale, secretFile, secretsForHost, templatesForHost, type LoadedRepo } from "../repo/index.js";
import { checkRepoPaths } from "../repo/validate.js";
import { makeManifest } from "./manifest.js";
import { unknownHost } from "../errors.js";

export { bundleContentId, makeManifest } from "./manifest.js";

/**
 * Writes HOST's bundle into outDir (created if absent; must be empty).
 *
 * @returns the bundle dir and its manifest
 * @throws NixsealError NIXSEAL_ERR_UNKNOWN_HOST, NIXSEAL_ERR_BUNDLE_STALE (a blob not
 * encrypted to the current recipients: rekey first), NIXSEAL_ERR_BUNDLE_OUT_NOT_EMPTY,
 * NIXSEAL_ERR_NOT_FOUND (a blob missing from secrets/)
 */
export async function buildHostBundle(loaded: LoadedRepo, host: string, outDir: string): Promise<{ dir: string; manifest: BundleManifest }> {
  const { repo, dir } = loaded;
  if (!repo.hosts[host]) throw unknownHost(host, repo);
  // nixseal.json may have been edited by hand: the path rule again, for this host
  checkRepoPaths(repo, [host]);
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  if ((await readdir(outDir)).length > 0) {
    throw new NixsealError("NIXSEAL_ERR_BUNDLE_OUT_NOT_EMPTY", `${outDir} is not empty`, { hints: ["pass a new or empty directory to --out"] });
  }
  const secrets: BundleSecret[] = [];
  for (const name of secretsForHost(repo, host)) {
    const meta = repo.secrets[name]!;
    if (isStale(repo, name)) {
      throw new NixsealError("NIXSEAL_ERR_BUNDLE_STALE", `secret "${name}" is not encrypted to its current recipients`, {
        hints: [`run "nixseal secrets rekey" and try again`],
      });
    }
    let blob: Buffer;
    try {
      blob = await readFile(secretFile(dir, name));
    } catch (err) {
      throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `${secretFile(dir, name)}: cannot read the encrypted secret`, {
        cause: err,
        hints: [`restore it from git, or set a new value with "nixseal secrets edit ${name}"`],
      });
    }
    const file = `${name}.age`;
    await writeFileAtomic(join(outDir, file), blob, 0o644);
    secrets.push({
      name,
      file,
      sha256: createHash("sha256").update(blob).digest("hex"),
      owner: meta.owner,
      group: meta.group,
      mode: meta.mode,
      ...(meta.path ? { path: meta.path } : {}),
      restartUnits: meta.restartUnits,
      reloadUnits: meta.reloadUnits,
      version: meta.version,
      ...(meta.neededForUsers ? { neededForUsers: true as const } : {}),
    });
  }
  // Each template is checked again here: nothing ships that names a secret this host does not get.
  const templates: BundleTemplate[] = [];
  for (const name of templatesForHost(repo, host)) {
    const t = repo.templates![name]!;
    const { text, uses } = await loadTemplate(dir, repo, name);
    const file = `${name}.tmpl`;
    await writeFileAtomic(join(outDir, file), text, 0o644);
    templates.push({ name, file, sha256: createHash("sha256").update(text).digest("hex"), uses, owner: t.owner, group: t.group, mode: t.mode, ...(t.path ? { path: t.path } : {}), restartUnits: t.restartUnits, reloadUnits: t.reloadUnits, version: t.version });
  }
  const manifest = makeManifest(host, secrets, undefined, templates);
  await writeFileAtomic(join(outDir, BUNDLE_MANIFEST), JSON.stringify(manifest, null, 2) + "\n", 0o644);
  return { dir: outDir, manifest };
}

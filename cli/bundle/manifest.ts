import { createHash } from "node:crypto";
import { BUNDLE_FORMAT, type BundleManifest, type BundleSecret, type BundleTemplate } from "../../core/index.js";

/**
 * The bundle's content id: SHA-256 over the host and its sorted secrets (every field,
 * ciphertext hashes included, creation time excluded), so the same secrets give the
 * same id and the agent can tell "already stored" from "new".
 */
export function bundleContentId(host: string, secrets: readonly BundleSecret[], templates: readonly BundleTemplate[] = []): string {
  const canonical = byName(secrets).map((s) => [s.name, s.file, s.sha256, s.owner, s.group, s.mode, s.path ?? null, s.restartUnits, s.reloadUnits, s.version, ...(s.neededForUsers ? [true] : [])]);
  // Templates only when there are any: the ids of bundles without templates stay as they were.
  const withTemplates = templates.length ? [canonical, byName(templates).map((t) => [t.name, t.file, t.sha256, t.uses, t.owner, t.group, t.mode, t.path ?? null, t.restartUnits, t.reloadUnits, t.version])] : canonical;
  return createHash("sha256").update(JSON.stringify([BUNDLE_FORMAT, host, withTemplates])).digest("hex");
}

function byName<T extends { name: string }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A complete manifest for these secrets (and templates). */
export function makeManifest(host: string, secrets: BundleSecret[], createdAt = new Date().toISOString(), templates: BundleTemplate[] = []): BundleManifest {
  const sorted = byName(secrets);
  return { format: BUNDLE_FORMAT, host, id: bundleContentId(host, sorted, templates), createdAt, secrets: sorted, ...(templates.length ? { templates: byName(templates) } : {}) };
}

import { BUNDLE_FORMAT, bundleContentId, type BundleManifest, type BundleSecret, type BundleTemplate } from "../../core/index.js";

export { bundleContentId } from "../../core/index.js";

function byName<T extends { name: string }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A complete manifest for these secrets (and templates), sorted by name, its content id computed. */
export function makeManifest(host: string, secrets: BundleSecret[], createdAt = new Date().toISOString(), templates: BundleTemplate[] = []): BundleManifest {
  const sorted = byName(secrets);
  return { format: BUNDLE_FORMAT, host, id: bundleContentId(host, sorted, templates), createdAt, secrets: sorted, ...(templates.length ? { templates: byName(templates) } : {}) };
}

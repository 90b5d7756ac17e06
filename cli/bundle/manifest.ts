import { createHash } from "node:crypto";
import { BUNDLE_FORMAT, type BundleManifest, type BundleSecret } from "../../core/index.js";

/**
 * The bundle's content id: SHA-256 over the host and its sorted secrets (every field,
 * ciphertext hashes included, creation time excluded), so the same secrets give the
 * same id and the agent can tell "already stored" from "new".
 */
export function bundleContentId(host: string, secrets: readonly BundleSecret[]): string {
  const sorted = [...secrets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const canonical = sorted.map((s) => [s.name, s.file, s.sha256, s.owner, s.group, s.mode, s.path ?? null, s.restartUnits, s.reloadUnits, s.version]);
  return createHash("sha256").update(JSON.stringify([BUNDLE_FORMAT, host, canonical])).digest("hex");
}

/** A complete manifest for these secrets. */
export function makeManifest(host: string, secrets: BundleSecret[], createdAt = new Date().toISOString()): BundleManifest {
  const sorted = [...secrets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { format: BUNDLE_FORMAT, host, id: bundleContentId(host, sorted), createdAt, secrets: sorted };
}

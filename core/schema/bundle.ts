import { z } from "zod";
import { createHash } from "node:crypto";
import { NixsealError } from "../errors.js";
import { BUNDLE_MANIFEST } from "../on-host.js";
import { BUNDLE_LIMITS } from "./limits.js";
import { fileMode, hostName, principal, secretPath, storedSecretName, unitName } from "./names.js";
import { validate } from "./parse.js";
import { duplicateSecretPath } from "./secret-path.js";

/**
 * A host bundle: what `nixseal bundle` writes, `nixseal deploy` ships and the
 * agent stores as a generation. manifest.json plus the .age files it names;
 * only that host's secrets, only ciphertext.
 */
export const BUNDLE_FORMAT = "nixseal-bundle/v1";

export const bundleSecretSchema = z.strictObject({
  /** Stored generations may hold a name an older rule allowed; new bundles are checked at stage. */
  name: storedSecretName,
  /** File name inside the bundle dir: "<name>.age". */
  file: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._@+-]*\.age$/),
  /** Hex SHA-256 of the ciphertext file. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  owner: principal,
  /** Absent: the owner's primary group, looked up on the host. */
  group: principal.optional(),
  mode: fileMode,
  path: secretPath.optional(),
  restartUnits: z.array(unitName),
  reloadUnits: z.array(unitName),
  version: z.number().int().min(1),
  /** Restored before users are created, root-only, into the for-users dir (absent: false). */
  neededForUsers: z.literal(true).optional(),
});

/** A template to render on the host: its text is the file it names, in the bundle (no secret in it). */
export const bundleTemplateSchema = bundleSecretSchema.extend({
  /** File name inside the bundle dir: "<name>.tmpl". */
  file: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._@+-]*\.tmpl$/),
  /** Hex SHA-256 of the template text. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The secrets of this bundle its placeholders name. */
  uses: z.array(storedSecretName),
});

export const bundleManifestSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  host: hostName,
  /** Content id: hex SHA-256 over the canonical secrets list (first 16 chars shown to people). */
  id: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  /**
   * Per-host number that only grows, set by `nixseal push` and covered by the
   * operator's signature: an agent that pulls refuses a bundle whose sequence is not
   * above the highest it has run, so an old signed bundle cannot be replayed to it.
   * Bundles shipped over SSH (deploy, import) have none.
   */
  sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  /** Signed by the operator on purpose: secrets' versions may go down (a rollback). */
  rollback: z.literal(true).optional(),
  secrets: z.array(bundleSecretSchema),
  /** Absent in bundles without templates. */
  templates: z.array(bundleTemplateSchema).optional(),
});

export type BundleSecret = z.infer<typeof bundleSecretSchema>;
export type BundleTemplate = z.infer<typeof bundleTemplateSchema>;
export type BundleManifest = z.infer<typeof bundleManifestSchema>;

function byName<T extends { name: string }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A bundle's content id: `nixseal bundle` writes it, the agent recomputes it for every
 * bundle it did not store itself (a writer cannot pick it), the server keys bundles by it.
 * SHA-256 over the host, its secrets and templates sorted by name (every field, hashes
 * included, creation time excluded): the same content gives the same id.
 *
 * @param host - the bundle's host
 * @param secrets - its secrets, in any order
 * @param templates - its templates, in any order (none: the id of a bundle without any)
 * @returns 64 hex digits
 */
export function bundleContentId(host: string, secrets: readonly BundleSecret[], templates: readonly BundleTemplate[] = []): string {
  const canonical = byName(secrets).map((s) => [s.name, s.file, s.sha256, s.owner, s.group, s.mode, s.path ?? null, s.restartUnits, s.reloadUnits, s.version, ...(s.neededForUsers ? [true] : [])]);
  // Templates only when there are any: the ids of bundles without templates stay as they were.
  const withTemplates = templates.length ? [canonical, byName(templates).map((t) => [t.name, t.file, t.sha256, t.uses, t.owner, t.group, t.mode, t.path ?? null, t.restartUnits, t.reloadUnits, t.version])] : canonical;
  return createHash("sha256").update(JSON.stringify([BUNDLE_FORMAT, host, withTemplates])).digest("hex");
}

/**
 * The one check of a manifest that did not come from the agent's own store: the
 * schema, the limits, every name, file and path once (secrets and templates share
 * names: both become files in the run dir), every template's inputs among the secrets,
 * and the id recomputed from the content (a writer cannot choose it, nor keep an old id
 * over new content).
 *
 * @param data - parsed JSON
 * @param file - file name for the message
 * @returns the manifest
 * @throws NixsealError NIXSEAL_ERR_INVALID_FILE naming the first problem
 */
export function checkBundleManifest(data: unknown, file: string = BUNDLE_MANIFEST): BundleManifest {
  const manifest = validate(bundleManifestSchema, data, file);
  const refuse = (why: string, hint: string) => new NixsealError("NIXSEAL_ERR_INVALID_FILE", `${file}: ${why}`, { hints: [hint] });
  const rebuild = "rebuild the bundle with nixseal bundle HOST --out DIR (or nixseal deploy) instead of editing manifest.json";
  const templates = manifest.templates ?? [];
  const all = [...manifest.secrets, ...templates];
  if (all.length > BUNDLE_LIMITS.secrets) throw refuse(`${all.length} secrets and templates, more than the ${BUNDLE_LIMITS.secrets} a bundle may hold`, "split the host's secrets or remove unused ones");
  const names = new Set<string>();
  const files = new Set<string>();
  for (const s of all) {
    if (names.has(s.name)) throw refuse(`'${s.name}' is listed twice (secrets and templates share names)`, rebuild);
    if (files.has(s.file)) throw refuse(`file ${s.file} is named twice`, rebuild);
    names.add(s.name);
    files.add(s.file);
  }
  const secretNames = new Set(manifest.secrets.map((s) => s.name));
  for (const t of templates) {
    const missing = t.uses.find((u) => !secretNames.has(u));
    if (missing) throw refuse(`template '${t.name}' uses '${missing}', which is not a secret of the bundle`, rebuild);
  }
  const dup = duplicateSecretPath(all);
  if (dup) throw refuse(`'${dup.names[0]}' and '${dup.names[1]}' have the same path ${JSON.stringify(dup.path)}`, "give each secret and template its own path, then bundle again");
  if (bundleContentId(manifest.host, manifest.secrets, templates) !== manifest.id) throw refuse("its id is not the content id of its secrets (the manifest was changed after it was made)", rebuild);
  return manifest;
}

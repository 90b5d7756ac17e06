import { z } from "zod";
import { absolutePath, fileMode, hostName, principal, storedSecretName, unitName } from "./names.js";

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
  group: principal,
  mode: fileMode,
  path: absolutePath.optional(),
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

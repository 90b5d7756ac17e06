import { z } from "zod";
import { fileMode, hostName, principal, secretName, unitName } from "./names.js";

/**
 * What `nixseal-agent verify --json` prints and `nixseal verify HOST` reads: whether
 * every secret of the current generation is live with its owner, group, mode and
 * content, and whether its consumers started after the boot restore put it there.
 * Content is checked on the host (the live file against the decryption of the
 * generation's ciphertext); no hash of a value is ever in the report.
 */
export const VERIFY_REPORT_FORMAT = "nixseal-verify/v1";

const verifiedSecretSchema = z.strictObject({
  name: secretName,
  ok: z.boolean(),
  /** What is wrong, one sentence each; empty when ok. */
  problems: z.array(z.string()),
  owner: principal,
  group: principal.optional(),
  mode: fileMode,
  /** Hex SHA-256 of the ciphertext the live file was checked against. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  version: z.number().int().min(1),
});

const verifiedConsumerSchema = z.strictObject({
  unit: unitName,
  secrets: z.array(secretName),
  ok: z.boolean(),
  problem: z.string().optional(),
  activeState: z.string(),
  /** CLOCK_MONOTONIC µs when the unit last left "inactive" (began starting); 0: never started this boot. */
  startedMonotonicUs: z.number().int().min(0),
  invocationId: z.string(),
});

export const verifyReportSchema = z.strictObject({
  format: z.literal(VERIFY_REPORT_FORMAT),
  host: hostName.nullable(),
  ok: z.boolean(),
  bootId: z.string().nullable(),
  generation: z.number().int().nullable(),
  /** The generation's bundle id (hex SHA-256 over its secrets). */
  bundleId: z.string().nullable(),
  /**
   * The last boot restore, as the agent recorded it. sameBoot: its systemd invocation is
   * the one nixseal-restore.service has in this boot (or, outside systemd, its boot id is this one).
   */
  restore: z
    .strictObject({
      bootId: z.string().nullable(),
      invocationId: z.string().nullable(),
      sameBoot: z.boolean(),
      ok: z.boolean(),
      failed: z.number().int().min(0),
      durationMs: z.number().min(0),
      finishedMonotonicUs: z.number().int().min(0),
    })
    .nullable(),
  problems: z.array(z.string()),
  secrets: z.array(verifiedSecretSchema),
  consumers: z.array(verifiedConsumerSchema),
});

export type VerifiedSecret = z.infer<typeof verifiedSecretSchema>;
export type VerifiedConsumer = z.infer<typeof verifiedConsumerSchema>;
export type VerifyReport = z.infer<typeof verifyReportSchema>;

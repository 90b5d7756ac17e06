import { z } from "zod";
import { MAX_POSIX_ID } from "./limits.js";
import { secretPathSyntaxProblem } from "./secret-path.js";

import rules from "./names.json" with { type: "json" };

const SECRET_NAME = new RegExp(`^(?:${rules.secretName.pattern})$`);
const LEGACY_SECRET_NAME = new RegExp(`^(?:${rules.secretName.legacyPattern})$`);

/**
 * The one secret name rule (core/schema/names.json, also read by nix/module.nix).
 * A name is a file name under /run/keys and /run/nixseal and the stem of the
 * systemd unit `<name>-key.service`: one path component, no leading dot, only
 * characters systemd unit names and file names both take.
 */
export const secretName = z.string().regex(SECRET_NAME, { message: rules.secretName.message });

/**
 * Names the earlier rule allowed (also `@` and `+`). Files already written with
 * such a name (nixseal.json, a generation at rest) stay readable, so a host
 * still restores them and `nixseal secrets rename` can fix them; everything
 * new is checked with {@link secretName}.
 */
export const storedSecretName = z
  .string()
  .regex(LEGACY_SECRET_NAME, { message: rules.secretName.message })
  .refine((s) => !s.includes(".."), { message: 'a secret name may not contain ".."' });

/**
 * The problems of a set of secret names under the current rule: names the rule
 * refuses, and pairs that differ only in case (they would share one file on a
 * case-insensitive disk, e.g. secrets/<name>.age on a Mac).
 *
 * @param names - the names, in any order
 * @returns one entry per problem; empty when every name is fine
 */
export function secretNameProblems(names: Iterable<string>): Array<{ name: string; problem: "rule" | "case"; other?: string }> {
  const out: Array<{ name: string; problem: "rule" | "case"; other?: string }> = [];
  const seen = new Map<string, string>();
  for (const name of [...names].sort()) {
    if (!SECRET_NAME.test(name)) out.push({ name, problem: "rule" });
    const key = name.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) out.push({ name, problem: "case", other });
    else seen.set(key, name);
  }
  return out;
}

/**
 * A name close to `name` that the current rule accepts (`+` and `@` become `-`),
 * for the hint that names the rename command.
 */
export function suggestSecretName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[.-]+/, "");
  return (s === "" ? "secret" : s).slice(0, 128);
}

/** Host names: DNS-label style, also used as directory names. */
export const hostName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
    message: "a host name is 1-63 lowercase letters, digits and -, not starting or ending with -",
  });

/**
 * A POSIX user or group name, or a numeric id from 0 to MAX_POSIX_ID (4294967294) as one
 * regular expression (the generated per-host file is checked with it too).
 */
export const principal = z
  .string()
  .regex(/^([a-z_][a-z0-9_-]{0,31}\$?|[0-9]{1,9}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-4])$/, {
    message: `a user or group is a POSIX name (e.g. nginx) or a numeric id up to ${MAX_POSIX_ID}`,
  });

/** An octal file mode such as "0400" or "440". */
export const fileMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, { message: 'a mode is 3 or 4 octal digits, e.g. "0400"' });

/** A systemd unit name, e.g. nginx.service. */
export const unitName = z
  .string()
  .regex(/^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|timer|path|mount)$/, {
    message: "a unit name such as nginx.service",
  });

/** An absolute path with no ".." components. */
export const absolutePath = z
  .string()
  .regex(/^\/[^\0]*$/, { message: "an absolute path" })
  .refine((p) => !p.split("/").includes(".."), { message: 'a path may not contain ".."' });

/** A secret's `path`: an absolute, normalised path without control characters (secret-path.ts). */
export const secretPath = z.string().superRefine((p, ctx) => {
  const problem = secretPathSyntaxProblem(p);
  if (problem) ctx.addIssue({ code: "custom", message: `a secret's path must be absolute and normalised: ${problem}` });
});

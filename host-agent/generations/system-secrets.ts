// What the running system was built for: on NixOS, /etc/nixseal/secrets.json is the
// generated file the system was evaluated from (core/schema/host-secrets.ts). A bundle
// whose secrets (names and what the agent applies) disagree with it is refused at
// activation, and reported, not refused, at boot. Plain hosts have no such file.
// Loaded on demand (zod): the boot restore compares digests with boot/drift.ts first.
import { readFileSync } from "node:fs";
import type { BundleManifest } from "../../core/schema/bundle.js";
import { appliedDifferences, appliedDigest, appliedOfBundle } from "../../core/schema/applied-digest.js";
import { appliedSecretsOf, hostSecretsSchema, type HostSecrets } from "../../core/schema/host-secrets.js";
import { secretNameProblems } from "../../core/schema/names.js";
import { parseJsonText, validate } from "../../core/schema/parse.js";
import type { AgentConfig } from "../config/defaults.js";
import { errors } from "../errors.js";

/**
 * The running system's secrets file, or undefined where there is none.
 *
 * @throws AgentError systemSecrets when it exists but cannot be read or is not of its format
 */
export function readSystemSecrets(file: string): HostSecrets | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw errors.systemSecrets([file, (err as NodeJS.ErrnoException).code ?? "error"], { cause: err });
  }
  try {
    return validate(hostSecretsSchema, parseJsonText(text, file), file);
  } catch (err) {
    throw errors.systemSecrets([file, (err as Error).message], { cause: err });
  }
}

/** The applied digest of a bundle's secrets and templates (the same as the generated file's for the same repo). */
export function bundleDigest(manifest: BundleManifest): string {
  return appliedDigest(appliedOfBundle(manifest));
}

/**
 * How a bundle disagrees with the running system: empty when it agrees or when
 * the host has no system secrets file.
 */
export function systemDrift(config: AgentConfig, manifest: BundleManifest): string[] {
  const system = readSystemSecrets(config.systemSecrets);
  if (!system || system.digest === bundleDigest(manifest)) return [];
  const diff = appliedDifferences(appliedSecretsOf(system), appliedOfBundle(manifest));
  return diff.length ? diff : ["the secrets' metadata differs"];
}

/**
 * Refuses to make a bundle live that the running system was not built for,
 * unless the caller ships the system that is built for it next (deploy with a
 * config: `nextSystem` is the digest of the generated file it just installed).
 *
 * @throws AgentError systemDrift, naming the differences
 */
export function requireSystemMatch(config: AgentConfig, manifest: BundleManifest, generation: number, nextSystem?: string): void {
  if (nextSystem !== undefined && nextSystem === bundleDigest(manifest)) return;
  const drift = systemDrift(config, manifest);
  if (drift.length) throw errors.systemDrift([`generation ${generation} against ${config.systemSecrets}`, drift.join("; ")]);
}

/**
 * A bundle coming in must use the current name rule: no name it refuses, no two
 * that differ only in case (stored generations stay readable under the older rule).
 *
 * @throws AgentError badName
 */
export function requireCurrentNames(dir: string, manifest: BundleManifest): void {
  const problems = secretNameProblems(manifest.secrets.map((s) => s.name));
  if (problems.length === 0) return;
  const p = problems[0]!;
  throw errors.badName([dir, p.problem === "rule" ? `secret name ${JSON.stringify(p.name)} is not allowed (letters, digits, . _ - only)` : `secret names ${JSON.stringify(p.name)} and ${JSON.stringify(p.other)} differ only in case`]);
}

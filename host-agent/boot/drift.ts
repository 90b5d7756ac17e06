// The boot restore's drift report, cheap in the common case: the running system's
// secrets file (NixOS) is read as plain JSON and its digest compared with the
// bundle's; only a mismatch loads the schema (generations/system-secrets.ts) to list what differs.
import { readFileSync } from "node:fs";
import type { BundleManifest } from "../../core/schema/bundle.js";
import { appliedDigest, appliedOfBundle } from "../../core/schema/applied-digest.js";
import type { AgentConfig } from "../config/defaults.js";

/**
 * How the restored bundle disagrees with the running system; empty when it
 * agrees or the host has no system secrets file. Never throws: a problem
 * reading the file is reported as drift.
 */
export async function bootDrift(config: AgentConfig, manifest: BundleManifest): Promise<string[]> {
  let digest: unknown;
  try {
    digest = (JSON.parse(readFileSync(config.systemSecrets, "utf8")) as { digest?: unknown }).digest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    digest = undefined;
  }
  if (digest === appliedDigest(appliedOfBundle(manifest))) return [];
  try {
    const { systemDrift } = await import("../generations/system-secrets.js");
    const drift = systemDrift(config, manifest);
    return drift.length ? drift : ["the secrets' metadata differs"];
  } catch (err) {
    return [(err as Error).message];
  }
}

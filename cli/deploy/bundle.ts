// The host's bundle (manifest.json + its .age files: ciphertext only), written by the
// bundle module into a local temp dir before any host is contacted.
import type { BundleManifest } from "../../core/index.js";
import { buildHostBundle } from "../bundle/index.js";
import type { LoadedRepo } from "../repo/index.js";

/** Writes HOST's bundle into outDir and returns its manifest. */
export async function writeHostBundle(loaded: LoadedRepo, host: string, outDir: string): Promise<BundleManifest> {
  return (await buildHostBundle(loaded, host, outDir)).manifest;
}

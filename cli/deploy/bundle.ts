// The host's bundle, built locally by the bundle module (issue 5) into a temp dir.
import type { LoadedRepo } from "../repo/index.js";

/** Writes HOST's bundle (manifest.json + .age files) into outDir and returns its manifest id. */
export async function writeHostBundle(loaded: LoadedRepo, host: string, outDir: string): Promise<{ id: string; secrets: { name: string; version: number; sha256: string; owner: string; group: string; mode: string }[] }> {
  const spec = "../bundle/index.js";
  const mod = (await import(spec)) as { buildHostBundle: (...args: unknown[]) => Promise<unknown> };
  const r = (await mod.buildHostBundle(loaded, host, outDir)) as Record<string, any>;
  const manifest = (r.manifest ?? r) as Record<string, any>;
  return { id: manifest.id, secrets: manifest.secrets };
}

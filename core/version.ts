// The one version string of nixseal, nixseal-agent and nixseal-server: package.json's.
import { readFileSync } from "node:fs";

let version: string | undefined;

/**
 * The package version, read from package.json on first use (never on the agent's boot
 * path, which does not print it).
 *
 * @returns e.g. "0.1.0"; "0.0.0" when package.json cannot be found
 */
export function nixsealVersion(): string {
  // From dist/core/ and from the agent's bundle in dist/host-agent/ it is two levels up; from the sources, one.
  for (const rel of ["../../package.json", "../package.json"]) {
    if (version !== undefined) break;
    try {
      version = (JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { version: string }).version;
    } catch {
      // try the next layout
    }
  }
  return (version ??= "0.0.0");
}

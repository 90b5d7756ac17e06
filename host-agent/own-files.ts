// Files the agent opens from beside its own code. This module stays at the top of
// host-agent/ on purpose: there import.meta.url names the same directory in the tsc
// output (dist/host-agent/) and in the build's bundle (whose chunks are written to
// dist/host-agent/ too), so these paths hold for both. From a subfolder they would not.

/** The decrypt worker thread's module (absent when a test runner runs the TypeScript sources). */
export function decryptWorkerFile(): URL {
  return new URL("./decrypt-worker.js", import.meta.url);
}

/** Where units.json may be: next to the sources (host-agent/systemd/), or from dist/host-agent/ back in the package. */
export function unitsJsonCandidates(): URL[] {
  return [new URL("./systemd/units.json", import.meta.url), new URL("../../host-agent/systemd/units.json", import.meta.url)];
}

/** The package's package.json (its version keys the agent.json seal: an upgrade validates anew). */
export function packageJsonFile(): URL {
  return new URL("../../package.json", import.meta.url);
}

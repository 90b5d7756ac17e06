// Each shared fact is defined once: the on-host paths, the bundle's manifest name, the
// agent API's types, the target parser, the error reply body and the version. A second
// spelling of one of them in the sources fails here, so copies cannot drift apart again.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUNDLE_MANIFEST, HOST_PATHS } from "../../core/on-host.js";
import { ROOT, sourceFiles } from "./import-graph.js";

const SOURCES = sourceFiles(["core", "cli", "host-agent", "server", "bench", "scripts"]);
const text = new Map(SOURCES.map((f) => [f, readFileSync(join(ROOT, f), "utf8")]));
/** Source lines without comments (a comment may name a path in prose). */
const code = new Map([...text].map(([f, t]) => [f, t.split("\n").filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l)).join("\n")]));

function filesWith(re: RegExp, from: Map<string, string> = code): string[] {
  return [...from].filter(([, t]) => re.test(t)).map(([f]) => f);
}

describe("contracts defined once", () => {
  it("units.json's paths are core's HOST_PATHS", () => {
    const paths = JSON.parse(readFileSync(join(ROOT, "host-agent/systemd/units.json"), "utf8")).paths as Record<string, string>;
    expect(Object.keys(paths).length).toBeGreaterThan(3);
    for (const [key, value] of Object.entries(paths)) expect({ key, value }).toEqual({ key, value: HOST_PATHS[key as keyof typeof HOST_PATHS] });
  });

  // Another tool's facts that happen to equal one of ours, with the reason.
  const OTHERS: Record<string, string[]> = {
    "/run/keys": ["cli/import/nixops/plan.ts", "scripts/docs-transcripts.ts"], // NixOps' own default destDir, read from a NixOps state file
  };
  it.each(Object.entries(HOST_PATHS))("the on-host path %s (%s) is spelled in core/on-host.ts only", (_key, path) => {
    const quoted = new RegExp(`["'\`]${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}["'\`]`);
    expect(filesWith(quoted).filter((f) => !OTHERS[path]?.includes(f))).toEqual(["core/on-host.ts"]);
  });

  it("the manifest's file name is spelled once", () => {
    expect(filesWith(new RegExp(`["'\`]${BUNDLE_MANIFEST.replace(".", "\\.")}["'\`]`))).toEqual(["core/on-host.ts"]);
  });

  it.each(["ErrorBody", "StatusReport", "SecretStatus", "LastRun", "StageReply", "ActivationReply", "HealthReply", "UnitActions", "SshTarget", "AgentConfig"])(
    "the type %s is defined once",
    (name) => {
      expect(filesWith(new RegExp(`^(export )?(interface|type) ${name}\\b`, "m"))).toHaveLength(1);
    },
  );

  it("one target parser: only core/ssh-target.ts holds the user@address[:port] pattern", () => {
    expect(filesWith(/\[A-Za-z0-9\._-\]\+\)@/)).toEqual(["core/ssh-target.ts"]);
  });

  it("one version: no binary spells its version", () => {
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    expect(filesWith(new RegExp(`["'\` ]${version.replace(/\./g, "\\.")}\\b`))).toEqual([]);
  });

  it("the agent's routes are named in core/agent-api.ts only", () => {
    expect(filesWith(/["'`]\/(stage|activate|rollback|health)["'`]/)).toEqual(["core/agent-api.ts"]);
  });
});

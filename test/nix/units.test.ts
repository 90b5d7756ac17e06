// nix/units.nix maps units.json (the agent's one source of truth for its
// systemd units) onto NixOS options. These tests evaluate it with plain
// nix-instantiate (no nixpkgs needed) and prove the mapping keeps every
// setting: mapping it back gives the sections units.json has.
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROOT, haveNix, nixEval, nixEvalError, normalize, type Sections } from "./nix.js";

const REAL = "host-agent/systemd/units.json";
const SAMPLE = "test/nix/fixtures/units.sample.json";
const AGENT = "/nix/store/00000000000000000000000000000000-nixseal-0.1.0/bin/nixseal-agent";
type Placeholders = Record<string, string | string[]>;
const PLACEHOLDERS: Placeholders = {
  "@agent@": AGENT,
  "@config@": "/etc/nixseal/agent.json",
  "@fsType@": "tmpfs",
  "@fsOptions@": "mode=0751,noswap,nodev,nosuid,noexec,size=64M",
  "@readWritePaths@": ["/var/lib/caddy", "/srv/app"],
  "@identityPaths@": ["/etc/ssh/ssh_host_ed25519_key"],
};

function nixString(s: string): string {
  return JSON.stringify(s).replace(/\$\{/g, "\\${");
}
function nixAttrs(o: Placeholders): string {
  const v = (x: string | string[]) => (Array.isArray(x) ? `[ ${x.map(nixString).join(" ")} ]` : nixString(x));
  return `{ ${Object.entries(o).map(([k, x]) => `${nixString(k)} = ${v(x)};`).join(" ")} }`;
}
/** The expression module.nix evaluates, on a given units file. */
function mapExpr(unitsFile: string, placeholders: Placeholders = PLACEHOLDERS): string {
  return `import ./nix/units.nix { units = builtins.fromJSON (builtins.readFile ./${unitsFile}); placeholders = ${nixAttrs(placeholders)}; }`;
}

type Mapped = {
  names: string[];
  sections: Sections;
  services: Record<string, { serviceConfig: Record<string, unknown>; after?: string[]; wantedBy?: string[] }>;
  targets: Record<string, Record<string, unknown>>;
  mounts: { what: string; where: string; type: string; options: string }[];
};

/**
 * units.json's sections as its "comment" specifies them, computed in TypeScript:
 * hardening joined into [Service] of hardenedUnits, placeholders replaced, a list
 * placeholder expanded in place.
 */
function substituted(file: string): Sections {
  const json = JSON.parse(readFileSync(`${ROOT}/${file}`, "utf8"));
  const out: Sections = {};
  const str = (s: string) =>
    Object.entries(PLACEHOLDERS).reduce((acc, [k, r]) => (typeof r === "string" ? acc.split(k).join(r) : acc), s);
  const sub = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.flatMap((x) => {
          const r = typeof x === "string" ? PLACEHOLDERS[x] : undefined;
          return Array.isArray(r) ? r : [sub(x)];
        })
      : typeof v === "string"
        ? str(v)
        : v;
  for (const [name, sections] of Object.entries(json.units as Sections)) {
    out[name] = {};
    const withHardening: Sections[string] = (json.hardenedUnits ?? []).includes(name)
      ? { ...sections, Service: { ...(json.hardening ?? {}), ...(sections.Service ?? {}) } }
      : sections;
    for (const [sec, keys] of Object.entries(withHardening))
      out[name][sec] = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, sub(v)]));
  }
  return out;
}

const nix = haveNix();
if (!nix) console.warn("test/nix: nix-instantiate not found; install nix-bin (scripts/setup.sh does)");

for (const [label, file] of [
  ["units.json (host-agent)", REAL],
  ["the sample units file", SAMPLE],
] as const) {
  const present = existsSync(`${ROOT}/${file}`);
  if (!present) console.warn(`test/nix: ${file} is not in the tree yet; its mapping tests are skipped`);

  describe.skipIf(!present)(`nix/units.nix on ${label}`, () => {
    it("is evaluated by nix-instantiate (nix-bin is installed)", () => {
      expect(nix).toBe(true);
    });

    it("maps every unit, and mapping back gives the same sections (nothing lost, nothing added)", () => {
      const mapped = nixEval(mapExpr(file)) as Mapped;
      const back = nixEval(
        `import ./test/nix/roundtrip.nix { mapped = ${mapExpr(file)}; }`,
      ) as Sections;
      const source = substituted(file);
      expect(mapped.names.sort()).toEqual(Object.keys(source).sort());
      expect(normalize(back)).toEqual(normalize(source));
      expect(normalize(mapped.sections)).toEqual(normalize(source));
    });

    it("replaces every placeholder: ExecStart runs the packaged agent", () => {
      const mapped = nixEval(mapExpr(file)) as Mapped;
      expect(JSON.stringify(mapped)).not.toMatch(/@[A-Za-z][A-Za-z0-9_]*@/);
      const execStarts = Object.values(mapped.services).flatMap((s) => [s.serviceConfig.ExecStart ?? []].flat());
      expect(execStarts.length).toBeGreaterThan(0);
      for (const e of execStarts) expect(e).toEqual(expect.stringMatching(new RegExp(`^${AGENT} `)));
    });

    it("has the mount, the target the module wires consumers to, and only known unit kinds", () => {
      const mapped = nixEval(mapExpr(file)) as Mapped;
      expect(mapped.targets).toHaveProperty(["nixseal-secrets"]);
      expect(mapped.mounts.map((m) => m.where)).toContain("/run/nixseal");
      const tmpfs = mapped.mounts.find((m) => m.where === "/run/nixseal")!;
      expect(tmpfs.type).toBe("tmpfs");
      expect(tmpfs.options.split(",")).toContain("noswap");
    });
  });
}

describe.skipIf(!nix)("nix/units.nix refuses what NixOS could not express", () => {
  const inline = (json: unknown, placeholders: Placeholders = PLACEHOLDERS) =>
    `import ./nix/units.nix { units = builtins.fromJSON ${nixString(JSON.stringify(json))}; placeholders = ${nixAttrs(placeholders)}; }`;

  it("an unknown placeholder fails evaluation and names it", () => {
    const err = nixEvalError(inline({ units: { "a.service": { Service: { ExecStart: "@agent@ --x @bogus@" } } } }));
    expect(err).toContain("@bogus@");
    expect(err).toContain("does not know");
  });

  it("an [Install] key NixOS has no option for fails evaluation", () => {
    const err = nixEvalError(inline({ units: { "a.service": { Service: {}, Install: { Also: "b.service" } } } }));
    expect(err).toContain("[Install] Also");
  });

  it("a mount whose unit name does not match its Where fails evaluation", () => {
    const err = nixEvalError(inline({ units: { "run-x.mount": { Mount: { What: "tmpfs", Where: "/run/y" } } } }));
    expect(err).toContain("run-y.mount");
  });

  it("a section a unit kind cannot carry fails evaluation", () => {
    const err = nixEvalError(inline({ units: { "t.target": { Service: { ExecStart: "/bin/true" } } } }));
    expect(err).toContain("Service");
  });

  it("a unit kind it does not map (which would exist on plain hosts only) fails evaluation", () => {
    const err = nixEvalError(inline({ units: { "nixseal.path": { Path: { PathExists: "/run/x" } } } }));
    expect(err).toContain("nixseal.path");
    expect(err).toContain("does not map");
  });

  it("maps a timer (units.json's pull timer): [Timer] to timerConfig, [Install] to wantedBy", () => {
    const mapped = nixEval(inline({ units: { "nixseal-pull.timer": { Unit: { Description: "d" }, Timer: { OnUnitActiveSec: "10min" }, Install: { WantedBy: "timers.target" } } } })) as { timers: Record<string, unknown> };
    expect(mapped.timers).toEqual({ "nixseal-pull": { description: "d", timerConfig: { OnUnitActiveSec: "10min" }, unitConfig: {}, wantedBy: ["timers.target"] } });
  });

  it("escapes dashes in mount names as systemd does", () => {
    const mapped = nixEval(
      inline({ units: { "run-nix\\x2dseal.mount": { Mount: { What: "tmpfs", Where: "/run/nix-seal", Type: "tmpfs" } } } }),
    ) as Mapped;
    expect(mapped.mounts[0].where).toBe("/run/nix-seal");
  });
});

describe.skipIf(!nix)("nix/units.nix and units.json's hardening", () => {
  it("a key set both in hardening and in a hardened unit's [Service] fails evaluation", () => {
    const json = {
      units: { "a.service": { Service: { ExecStart: "/bin/true", ProtectSystem: "full" } } },
      hardenedUnits: ["a.service"],
      hardening: { ProtectSystem: "strict" },
    };
    const err = nixEvalError(
      `import ./nix/units.nix { units = builtins.fromJSON ${nixString(JSON.stringify(json))}; placeholders = { }; }`,
    );
    expect(err).toContain("ProtectSystem");
    expect(err).toContain("keep one");
  });
});

// No drift: the unit files `nixseal-agent install` writes on a plain systemd host
// (host-agent/systemd/install-units.ts) and the units NixOS gets from nix/units.nix carry the
// same settings, for the same units.json and the same inputs. The NixOS side
// is mapped back from NixOS options (test/nix/roundtrip.nix), so a setting
// the mapping dropped, renamed or invented shows up here.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { memoryFsFor, renderUnits, type UnitsSpec } from "../../host-agent/systemd/install-units.js";
import { ROOT, haveNix, nixEval, normalize, parseUnitText, type Sections } from "./nix.js";

const spec = JSON.parse(readFileSync(`${ROOT}/host-agent/systemd/units.json`, "utf8")) as UnitsSpec;
const AGENT = "/nix/store/00000000000000000000000000000000-nixseal-0.1.0/bin/nixseal-agent";
const CONFIG = spec.paths.config;
const KEYS = ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"];

function nixSide(fs: { fsType: string; fsOptions: string }, readWritePaths: string[]): Sections {
  const list = `[ ${readWritePaths.map((p) => JSON.stringify(p)).join(" ")} ]`;
  const mapped = `import ./nix/units.nix {
    units = builtins.fromJSON (builtins.readFile ./host-agent/systemd/units.json);
    placeholders = {
      "@agent@" = ${JSON.stringify(AGENT)}; "@config@" = ${JSON.stringify(CONFIG)};
      "@fsType@" = ${JSON.stringify(fs.fsType)}; "@fsOptions@" = ${JSON.stringify(fs.fsOptions)};
      "@readWritePaths@" = ${list};
      "@identityPaths@" = [ ${JSON.stringify(KEYS[0])} ${JSON.stringify(KEYS[1])} ];
    };
  }`;
  return nixEval(`import ./test/nix/roundtrip.nix { mapped = ${mapped}; }`) as Sections;
}

function tsSide(kernel: string, readWritePaths: string[]): Sections {
  const files = renderUnits(spec, { agent: AGENT, config: CONFIG, kernel, readWritePaths, identityPaths: KEYS });
  return Object.fromEntries(Object.entries(files).map(([name, text]) => [name, parseUnitText(text)])) as Sections;
}

describe.skipIf(!haveNix())("units.json rendered for plain systemd and for NixOS", () => {
  for (const [kernel, rw] of [
    ["6.8.0", ["/var/lib/caddy", "/srv/app"]],
    ["6.1.55", []],
  ] as const) {
    it(`agree on every unit and setting (kernel ${kernel}, ${rw.length} extra ReadWritePaths)`, () => {
      const ts = normalize(tsSide(kernel, [...rw]));
      const nix = normalize(nixSide(memoryFsFor(spec, kernel), [...rw]));
      expect(Object.keys(nix).sort()).toEqual(Object.keys(ts).sort());
      expect(nix).toEqual(ts);
    });
  }

  it("would notice a difference (the comparison is not vacuous)", () => {
    const ts = normalize(tsSide("6.8.0", []));
    const nix = normalize(nixSide(memoryFsFor(spec, "6.8.0"), ["/extra"]));
    expect(nix).not.toEqual(ts);
    const restore = ts["nixseal-restore.service"];
    expect(restore.Service.ExecStart).toEqual([AGENT, "restore", "--config", CONFIG]);
    expect(restore.Service.ProtectSystem).toEqual(["strict"]);
    expect(ts["run-nixseal.mount"].Mount.Type).toEqual(["tmpfs"]);
  });
});

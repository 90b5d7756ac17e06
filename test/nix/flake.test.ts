// flake.nix's outputs, evaluated without fetching nixpkgs (test/nix/flake-eval.nix:
// the vendored nixpkgs lib, nixos-eval's fake packages and stub NixOS): packages for
// exactly the platforms with a pinned dependency hash, the module, and `checks`
// (the package build and a NixOS evaluation of the module). Building them needs
// Nix with nixpkgs, which is not here.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatHostSecrets, hostSecretsSchema, makeHostSecrets } from "../../core/index.js";
import { ROOT, haveNix, nixEval } from "./nix.js";

const pins = JSON.parse(readFileSync(`${ROOT}/nix/npm-deps.json`, "utf8")) as { hashes: Record<string, string> };

describe.skipIf(!haveNix())("flake.nix", () => {
  it("has packages for the pinned platforms, the module, and checks that build the package and evaluate the module", () => {
    const out = nixEval("import ./test/nix/flake-eval.nix") as { systems: string[]; checks: string[]; moduleCheck: string; failedAssertions: string[]; keyUnits: string[]; package: { name: string } };
    expect(out.systems).toEqual(Object.keys(pins.hashes).sort());
    expect(out.checks).toEqual(["module", "package"]);
    expect(out.moduleCheck).toBe("nixseal-module-eval");
    expect(out.failedAssertions).toEqual([]);
    expect(out.keyUnits).toEqual(["app-env-key.service", "caddy-tls-key.service", "db-password-key.service"]);
    expect(out.package.name).toMatch(/^nixseal-/);
  });

  it("the check host's generated file is what the CLI writes for its secrets (regenerated, not hand-made)", () => {
    const text = readFileSync(`${ROOT}/test/nix/fixtures/web1-nixseal-secrets.json`, "utf8");
    const file = hostSecretsSchema.parse(JSON.parse(text));
    expect(formatHostSecrets(makeHostSecrets(file.host, file.secrets))).toBe(text);
  });
});

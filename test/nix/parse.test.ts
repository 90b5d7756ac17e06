// Every .nix file in the repository parses (and binds all its variables:
// nix-instantiate --parse reports an undefined variable as an error).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ROOT, haveNix, nixFiles } from "./nix.js";

describe("nix files", () => {
  // The vendored nixos-eval (nixpkgs' lib and its stubs) is third-party code, parsed by every evaluation.
  const files = nixFiles().filter((f) => !f.startsWith("test/nix/nixos-eval/"));

  it("include the module, package, flake and the pure units mapping", () => {
    expect(files).toEqual(expect.arrayContaining(["flake.nix", "nix/module.nix", "nix/package.nix", "nix/units.nix"]));
  });

  it("can be checked: nix-instantiate is installed (Debian package nix-bin, scripts/setup.sh)", () => {
    expect(haveNix()).toBe(true);
  });

  for (const file of files) {
    it.skipIf(!haveNix())(`${file} parses with nix-instantiate --parse`, () => {
      const r = spawnSync("nix-instantiate", ["--parse", file], { cwd: ROOT, encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    });
  }

  it.skipIf(!haveNix())("a broken file is reported (the check can fail)", () => {
    const r = spawnSync("nix-instantiate", ["--parse", "-E", "{ a }: a + undefinedName"], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("undefined variable");
  });
});

# Test helper: evaluates flake.nix's outputs without fetching nixpkgs: the
# vendored nixpkgs lib, nixos-eval's fake package set for legacyPackages, and
# nixos-eval's stub NixOS for lib.nixosSystem. Returns what the tests check:
# the systems, the package's name and dependency hash, the module's units in the
# check host, and the checks' names.
let
  lib0 = import ./nixos-eval/nixpkgs/lib;
  nixosSystem = { system, modules }:
    import ./nixos-eval/stub/eval-config.nix { lib = lib0; nixpkgs = ./nixos-eval/nixpkgs; inherit system modules; };
  lib = lib0 // { inherit nixosSystem; };
  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (system: import ./nixos-eval/stub/fake-pkgs.nix { lib = lib0; inherit system; });
  };
  flake = import ../../flake.nix;
  outputs = flake.outputs { inherit self nixpkgs; };
  self = outputs // { outPath = toString ../..; };
  host = nixosSystem {
    system = "x86_64-linux";
    modules = [
      outputs.nixosModules.default
      ./configs/many-secrets.nix
      { services.nixseal.secretsFile = ./fixtures/web1-nixseal-secrets.json; services.nixseal.package = outputs.packages.x86_64-linux.default; }
    ];
  };
in
{
  systems = builtins.attrNames outputs.packages;
  package = { inherit (outputs.packages.x86_64-linux.default) name; };
  checks = builtins.attrNames outputs.checks.x86_64-linux;
  moduleCheck = outputs.checks.x86_64-linux.module.name;
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) host.config.assertions);
  keyUnits = builtins.filter (n: lib.hasSuffix "-key.service" n) (builtins.attrNames host.config.systemd.units);
  inherit (flake) description;
}

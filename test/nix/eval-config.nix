# Evaluates nix/module.nix in one NixOS configuration and returns what the tests
# check: every unit's text and install links, assertions that failed, warnings,
# /etc entries, tmpfiles rules, the activation script and the module's paths.
#
# With NIXPKGS pointing at a nixpkgs checkout that has nixos/, real NixOS
# (nixos/lib/eval-config.nix) is used; otherwise the vendored nixos-eval (real
# nixpkgs lib + stub NixOS declarations, test/nix/nixos-eval/README.md).
#
#   nix-instantiate --eval --strict --json --readonly-mode test/nix/eval-config.nix \
#     --argstr nixosEval test/nix/nixos-eval --argstr nixpkgs … --argstr config test/nix/configs/minimal.nix \
#     [--argstr secretsFile /abs/path/nixseal-secrets.json]
{ nixosEval, nixpkgs ? "", config, secretsFile ? "" }:

let
  nixpkgsPath = /. + (if nixpkgs == "" then "${nixosEval}/nixpkgs" else nixpkgs);
  lib = import (nixpkgsPath + "/lib");
  full = builtins.pathExists (nixpkgsPath + "/nixos/lib/eval-config.nix");
  modules = [ ../../nix/module.nix (/. + config) ]
    ++ lib.optional (secretsFile != "") { services.nixseal.secretsFile = /. + secretsFile; };
  result =
    if full then import (nixpkgsPath + "/nixos/lib/eval-config.nix") { system = "x86_64-linux"; inherit modules; }
    else import (/. + "${nixosEval}/stub/eval-config.nix") { inherit lib modules; nixpkgs = nixpkgsPath; };
  cfg = result.config;
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);
  ok = failedAssertions == [ ];
  enabledUnits = lib.filterAttrs (_: u: u.enable or true) cfg.systemd.units;
in
{
  nixos = if full then "full" else "stub";
  inherit failedAssertions;
  warnings = cfg.warnings;
  units = if !ok then { } else lib.mapAttrs (_: u: {
    inherit (u) text;
    wantedBy = u.wantedBy or [ ];
    requiredBy = u.requiredBy or [ ];
  }) enabledUnits;
  # An entry made from pkgs.writeText keeps its text on the derivation (real and fake pkgs alike).
  etc = if !ok then { } else lib.mapAttrs (_: e: { source = toString e.source; text = e.source.text or e.text or null; }) (lib.filterAttrs (_: e: e.enable) cfg.environment.etc);
  tmpfiles = if !ok then [ ] else cfg.systemd.tmpfiles.rules;
  activation = if !ok then "" else cfg.system.activationScripts.script;
  agentPath = if !ok then "" else "${cfg.services.nixseal.package}/bin/nixseal-agent";
  packagePath = if !ok then "" else "${cfg.services.nixseal.package}";
  secretPaths = if !ok then { } else cfg.services.nixseal.secretPaths;
  identityPaths = if !ok then [ ] else cfg.services.nixseal.identityPaths;
  users = if !ok then { } else lib.mapAttrs (_: u: { inherit (u) hashedPasswordFile; }) cfg.users.users;
}

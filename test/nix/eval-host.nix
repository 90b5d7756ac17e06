# Evaluates a NixOS host with nix/module.nix against a real nixpkgs checkout
# and returns what test/nix/eval.test.ts checks: the generated unit texts and
# their install relations, /etc/nixseal/agent.json, tmpfiles rules,
# assertions and warnings. Needs nixpkgs; nothing is built.
#
#   nix-instantiate --eval --strict --json test/nix/eval-host.nix \
#     --argstr nixpkgs /path/to/nixpkgs [--argstr host ./docs-host.nix]
{ nixpkgs, host ? "sample", system ? builtins.currentSystem }:

let
  lib = import "${nixpkgs}/lib";
  hostModule = if host == "sample" then ./sample-host.nix else /. + host;
  eval = import "${nixpkgs}/nixos/lib/eval-config.nix" {
    inherit system;
    modules = [ ../../nix/module.nix hostModule ];
  };
  inherit (eval) config;
  unitNames = lib.attrNames config.systemd.units;
  interesting = lib.filter
    (n: lib.hasPrefix "nixseal" n || lib.hasSuffix "-key.service" n || lib.elem n [
      "run-nixseal.mount" "keys.target" "caddy.service" "podman-app.service" "legacy-worker.service"
    ])
    unitNames;
in
{
  units = lib.genAttrs interesting (n: {
    text = config.systemd.units.${n}.text;
    inherit (config.systemd.units.${n}) wantedBy requiredBy;
  });
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  inherit (config) warnings;
  agentJson = config.environment.etc."nixseal/agent.json".text;
  tmpfiles = config.systemd.tmpfiles.rules;
  agentPath = "${config.services.nixseal.package}/bin/nixseal-agent";
  kernelVersion = config.boot.kernelPackages.kernel.version;
  inherit (config.services.nixseal) fsType readWritePaths identityPaths;
  hostKeys = map (k: { inherit (k) type path; }) config.services.openssh.hostKeys;
}

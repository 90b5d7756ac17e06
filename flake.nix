{
  description = "nixseal: secrets for NixOS hosts, age-encrypted to their SSH host keys, restored at boot";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      # The platforms nix/npm-deps.json has a pinned dependency hash for
      # (scripts/npm-deps-hash.sh adds the one it runs on).
      systems = builtins.attrNames (lib.importJSON ./nix/npm-deps.json).hashes;
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      overlays.default = final: _prev: {
        nixseal = final.callPackage ./nix/package.nix { };
      };

      packages = forAllSystems (pkgs: rec {
        nixseal = pkgs.callPackage ./nix/package.nix { };
        default = nixseal;
      });

      # services.nixseal.package defaults to pkgs.nixseal when the overlay is
      # applied, else to a build of ./nix/package.nix with the host's nixpkgs.
      nixosModules.default = import ./nix/module.nix;
      nixosModules.nixseal = self.nixosModules.default;

      # `nix flake check`: the package builds (its installCheck included), and the
      # module evaluates in a real NixOS system (test/nix/configs/many-secrets.nix
      # with a generated file), down to the system's derivation, without building it.
      checks = forAllSystems (pkgs:
        let
          system = pkgs.stdenv.hostPlatform.system;
          host = lib.nixosSystem {
            inherit system;
            modules = [
              self.nixosModules.default
              ./test/nix/configs/many-secrets.nix
              {
                services.nixseal.secretsFile = ./test/nix/fixtures/web1-nixseal-secrets.json;
                services.nixseal.package = self.packages.${system}.default;
                system.stateVersion = "25.11";
              }
            ];
          };
          units = lib.filterAttrs (n: _: lib.hasPrefix "nixseal" n || lib.hasSuffix "-key.service" n) host.config.systemd.units;
        in
        {
          package = self.packages.${system}.default;
          module = pkgs.runCommand "nixseal-module-eval" {
            toplevel = builtins.unsafeDiscardStringContext host.config.system.build.toplevel.drvPath;
            passAsFile = [ "units" ];
            units = builtins.unsafeDiscardStringContext (builtins.toJSON (lib.mapAttrs (_: u: u.text) units));
          } ''
            grep -q 'nixseal-agent restore' "$unitsPath"
            grep -q 'caddy-tls-key.service' "$unitsPath"
            echo "$toplevel" > $out
          '';
        });
    };
}

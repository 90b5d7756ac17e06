{
  description = "nixseal: secrets for NixOS hosts, age-encrypted to their SSH host keys, restored at boot";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
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
    };
}

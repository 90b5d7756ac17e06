# Test helper: evaluates nix/package.nix without nixpkgs' packages: the real
# nixpkgs lib (vendored in test/nix/nixos-eval) and mkDerivation as the identity
# (the attrset a build would start from). What the tests check is the file's
# own logic: name and version from package.json, the pinned dependency hash and
# its lock check, the source filters, the build and installCheck scripts.
{ nix ? ../../nix }:
let
  lib = import ./nixos-eval/nixpkgs/lib;
  mkDerivation = args: args // { outPath = "/nix/store/00000000000000000000000000000000-${args.pname}-${args.version}"; };
  pkg = import (nix + "/package.nix") {
    inherit lib;
    stdenv = { inherit mkDerivation; hostPlatform.system = "x86_64-linux"; };
    stdenvNoCC = { inherit mkDerivation; };
    nodejs_24 = "/nix/store/00000000000000000000000000000000-nodejs-24";
    cacert = "cacert";
    makeWrapper = "makeWrapper";
    openssh = "openssh";
  };
  root = toString ../..;
  keeps = rel: type: pkg.src.filter "${root}/${rel}" type;
  lockKeeps = rel: type: pkg.passthru.npmDeps.src.filter "${root}/${rel}" type;
in
{
  inherit (pkg) pname version buildPhase installPhase installCheckPhase doInstallCheck;
  nodejs = pkg.passthru.nodejs;
  deps = { inherit (pkg.passthru.npmDeps) outputHash outputHashMode outputHashAlgo buildPhase dontFixup; };
  source = {
    core = keeps "core" "directory";
    packageLock = keeps "package-lock.json" "regular";
    nodeModules = keeps "node_modules" "directory";
    dist = keeps "dist" "directory";
    test = keeps "test" "directory";
    git = keeps ".git" "directory";
  };
  lockSource = {
    packageJson = lockKeeps "package.json" "regular";
    packageLock = lockKeeps "package-lock.json" "regular";
    core = lockKeeps "core" "directory";
  };
}

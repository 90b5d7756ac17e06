# Test helper: evaluates nix/package.nix without nixpkgs by passing
# buildNpmPackage as the identity (the attrset it would build from) and the
# handful of lib functions the file uses, written with builtins. What the test
# checks is the file's own logic: name and version from package.json, the
# source filter, and the installCheck script, which it runs against dist/.
let
  lib = {
    importJSON = p: builtins.fromJSON (builtins.readFile p);
    removePrefix = pre: s:
      let n = builtins.stringLength pre;
      in if builtins.substring 0 n s == pre then builtins.substring n (-1) s else s;
    inherit (builtins) elem;
    cleanSourceWith = args: args;
    licenses.mit = "mit";
    platforms = { linux = [ "x86_64-linux" ]; darwin = [ "aarch64-darwin" ]; };
  };
  pkg = import ../../nix/package.nix {
    inherit lib;
    buildNpmPackage = args: args;
    nodejs_20 = "nodejs_20";
    python3 = "python3";
    openssh = "openssh";
  };
  root = toString ../..;
  keeps = rel: type: pkg.src.filter "${root}/${rel}" type;
in
{
  inherit (pkg) pname version npmDepsHash npmBuildScript installCheckPhase doInstallCheck;
  source = {
    core = keeps "core" "directory";
    packageLock = keeps "package-lock.json" "regular";
    nodeModules = keeps "node_modules" "directory";
    dist = keeps "dist" "directory";
    test = keeps "test" "directory";
    git = keeps ".git" "directory";
  };
}

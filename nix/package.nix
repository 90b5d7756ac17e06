# The nixseal package: bins nixseal, nixseal-agent and nixseal-server, built
# from this repository with nixpkgs' buildNpmPackage.
#
# npmDepsHash pins every npm dependency in package-lock.json. It cannot be
# computed on a machine without nixpkgs, so it is a placeholder here; after any
# change to package-lock.json, on a machine with Nix and nixpkgs run either
#
#   nix run nixpkgs#prefetch-npm-deps -- package-lock.json
#
# or build once (`nix build .#default`) and copy the "got: sha256-…" hash from
# the hash-mismatch error into npmDepsHash below.
{ lib, buildNpmPackage, nodejs_20, python3, openssh }:

let
  manifest = lib.importJSON ../package.json;
  root = ../.;
  # Only what `npm ci && npm run build` reads: no node_modules, dist or tests.
  keep = path: type:
    let rel = lib.removePrefix (toString root + "/") (toString path);
    in !(lib.elem rel [ "node_modules" "dist" "test" ".git" ".ci" "result" ]);
in
buildNpmPackage {
  pname = manifest.name;
  inherit (manifest) version;

  src = lib.cleanSourceWith { src = root; filter = keep; name = "nixseal-source"; };

  nodejs = nodejs_20;
  npmDepsHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

  # npm ci runs with --ignore-scripts here, so "prepare" does not build; the
  # build phase runs `npm run build:package` (tsc over core, cli, host-agent and
  # server only: the source has no test/, which the dev build's demo needs).
  # ssh2's optional native addon (cpu-features) needs node-gyp's python; ssh2
  # works without it.
  npmBuildScript = "build:package";
  nativeBuildInputs = [ python3 ];

  # Smoke-test the installed artifact, not the build tree: the version, the
  # agent's entry point, and an age round trip to a fresh ssh-ed25519 key.
  doInstallCheck = true;
  nativeInstallCheckInputs = [ openssh ];
  installCheckPhase = ''
    runHook preInstallCheck
    [ "$($out/bin/nixseal --version)" = "${manifest.version}" ]
    $out/bin/nixseal-agent --help > /dev/null
    ssh-keygen -q -t ed25519 -N "" -f "$TMPDIR/key"
    printf 'installcheck\n' | $out/bin/nixseal age encrypt -R "$TMPDIR/key.pub" > "$TMPDIR/x.age"
    [ "$($out/bin/nixseal age decrypt -i "$TMPDIR/key" "$TMPDIR/x.age")" = installcheck ]
    runHook postInstallCheck
  '';

  meta = {
    description = manifest.description;
    license = lib.licenses.mit;
    mainProgram = "nixseal";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}

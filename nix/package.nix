# The nixseal package: bins nixseal, nixseal-agent and nixseal-server, built from
# this repository as it is.
#
# Dependencies are pinned by hash without any registry address in the repository
# (package-lock.json has names, versions and integrity hashes, no `resolved`
# URLs, so nixpkgs' fetchNpmDeps cannot be used): `npmDeps` is a fixed-output
# derivation that runs `npm ci --ignore-scripts` on the lock file alone, against
# npm's own default registry; npm checks every tarball against the lock's
# integrity, and Nix checks the whole tree against the NAR hash pinned in
# nix/npm-deps.json. scripts/npm-deps-hash.sh recomputes that hash with nix-hash
# from a clean install; evaluation fails when package-lock.json changed since.
#
# Node: nodejs_24, the active LTS line (supported until April 2028); nodejs_20
# reached its end of life in April 2026 and nodejs_22 ends in April 2027. The
# code keeps running on Node 20.16 and later (package.json engines).
{ lib, stdenv, stdenvNoCC, nodejs_24, cacert, makeWrapper, openssh }:

let
  manifest = lib.importJSON ../package.json;
  pins = lib.importJSON ./npm-deps.json;
  nodejs = nodejs_24;
  inherit (stdenv.hostPlatform) system;
  root = ../.;

  lockHash = builtins.hashFile "sha256" ../package-lock.json;
  depsHash =
    if lockHash != pins.lockSha256 then
      throw "nixseal: package-lock.json changed since nix/npm-deps.json was pinned: run scripts/npm-deps-hash.sh and commit nix/npm-deps.json"
    else pins.hashes.${system} or (throw "nixseal: nix/npm-deps.json has no dependency hash for ${system}: run scripts/npm-deps-hash.sh on a ${system} machine (or build once and take the hash Nix reports as \"got:\")");

  # Only what `npm ci && npm run build:package` reads: no node_modules, dist or tests.
  keep = path: type:
    let rel = lib.removePrefix (toString root + "/") (toString path);
    in !(lib.elem rel [ "node_modules" "dist" "test" ".git" ".ci" "result" ]);
  src = lib.cleanSourceWith { src = root; filter = keep; name = "nixseal-source"; };

  # The lock file and the manifest alone: the dependency tree changes only with them.
  lockSrc = lib.cleanSourceWith {
    src = root;
    filter = path: _: lib.elem (baseNameOf (toString path)) [ "package.json" "package-lock.json" ];
    name = "nixseal-lock";
  };

  # Installed dependencies (dev ones too: the build needs tsc and rolldown),
  # install scripts off, npm's cache and hidden lockfile left out of the output.
  npmDeps = stdenvNoCC.mkDerivation {
    pname = "${manifest.name}-npm-deps";
    inherit (manifest) version;
    src = lockSrc;
    nativeBuildInputs = [ nodejs cacert ];
    dontConfigure = true;
    buildPhase = ''
      runHook preBuild
      export HOME="$TMPDIR" npm_config_cache="$TMPDIR/npm-cache"
      umask 022
      npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
      rm -f node_modules/.package-lock.json
      runHook postBuild
    '';
    installPhase = ''
      runHook preInstall
      mv node_modules "$out"
      runHook postInstall
    '';
    # The hash is of npm's output as it is: no shebang or ELF rewriting here.
    dontFixup = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = depsHash;
  };
in
stdenv.mkDerivation {
  pname = manifest.name;
  inherit (manifest) version;
  inherit src;

  nativeBuildInputs = [ nodejs makeWrapper ];
  passthru = { inherit npmDeps nodejs; };

  # tsc over core, cli, host-agent and server only (the source has no test/,
  # which the dev build's demo needs), then the agent's boot bundle; dev
  # dependencies are dropped afterwards. Offline: everything is in npmDeps.
  buildPhase = ''
    runHook preBuild
    export HOME="$TMPDIR"
    cp -r ${npmDeps} node_modules
    chmod -R u+w node_modules
    patchShebangs node_modules
    npm run build:package
    npm prune --omit=dev --ignore-scripts --offline --no-audit --no-fund --loglevel=error
    runHook postBuild
  '';

  installPhase = ''
    runHook preInstall
    dest="$out/lib/node_modules/${manifest.name}"
    mkdir -p "$dest/host-agent/systemd" "$out/bin" "$out/libexec/nixseal"
    cp -r package.json dist node_modules "$dest/"
    cp host-agent/systemd/units.json "$dest/host-agent/systemd/"
    ${lib.concatStringsSep "\n" (lib.mapAttrsToList (bin: file: ''
      makeWrapper ${nodejs}/bin/node "$out/bin/${bin}" --add-flags "$dest/${file}"
    '') manifest.bin)}
    install -m 0755 nix/wait-key.sh "$out/libexec/nixseal/wait-key"
    runHook postInstall
  '';

  # Smoke-test the installed artifact, not the build tree: the version, the
  # agent's entry point, the key unit's waiter, and an age round trip to a fresh
  # ssh-ed25519 key.
  doInstallCheck = true;
  nativeInstallCheckInputs = [ openssh ];
  installCheckPhase = ''
    runHook preInstallCheck
    [ "$($out/bin/nixseal --version)" = "${manifest.version}" ]
    $out/bin/nixseal-agent --help > /dev/null
    : > "$TMPDIR/present"
    $out/libexec/nixseal/wait-key present "$TMPDIR/present" 1 host
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

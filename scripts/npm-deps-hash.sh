#!/usr/bin/env bash
# Pins nix/package.nix's dependencies: installs package-lock.json the way its
# fixed-output derivation does (npm ci --ignore-scripts in a clean directory, npm's
# hidden lockfile removed), hashes the tree with nix-hash (the NAR hash Nix checks),
# and writes nix/npm-deps.json: the lock file's sha256 and this platform's hash.
# Run it after every change to package-lock.json and commit nix/npm-deps.json.
#
#   scripts/npm-deps-hash.sh            # write nix/npm-deps.json
#   scripts/npm-deps-hash.sh --print    # only print {"system", "lockSha256", "hash"}
#
# NPM_OFFLINE=1 installs from npm's cache only (no network); NIXSEAL_NPM_DEPS_KEEP=DIR
# leaves the installed tree at DIR (a test builds the package from it). Other platforms'
# hashes (optional native packages differ per platform) are kept while the lock
# file is unchanged and dropped when it changed: compute them on such a machine.
set -euo pipefail
cd "$(dirname "$0")/.."
print=false
[[ "${1:-}" == --print ]] && print=true

case "$(uname -m)-$(uname -s)" in
x86_64-Linux) system=x86_64-linux ;;
aarch64-Linux) system=aarch64-linux ;;
x86_64-Darwin) system=x86_64-darwin ;;
arm64-Darwin) system=aarch64-darwin ;;
*) echo "npm-deps-hash: unknown platform $(uname -m)-$(uname -s)" >&2; exit 2 ;;
esac

work="$(mktemp -d "${TMPDIR:-/tmp}/nixseal-npm-deps.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json "$work/"
(
  cd "$work"
  umask 022
  offline=()
  [[ "${NPM_OFFLINE:-}" == 1 ]] && offline=(--offline)
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error "${offline[@]}" >&2
  rm -f node_modules/.package-lock.json
)
base16="$(nix-hash --type sha256 "$work/node_modules")"
if [[ -n "${NIXSEAL_NPM_DEPS_KEEP:-}" ]]; then mv "$work/node_modules" "$NIXSEAL_NPM_DEPS_KEEP"; fi
hash="sha256-$(node -e 'process.stdout.write(Buffer.from(process.argv[1], "hex").toString("base64"))' "$base16")"
lock="$(sha256sum package-lock.json | cut -d' ' -f1)"

if $print; then
  printf '{"system":"%s","lockSha256":"%s","hash":"%s"}\n' "$system" "$lock" "$hash"
  exit 0
fi
node - "$system" "$lock" "$hash" <<'JS'
const fs = require("node:fs");
const [system, lock, hash] = process.argv.slice(2);
const file = "nix/npm-deps.json";
let old = {};
try { old = JSON.parse(fs.readFileSync(file, "utf8")); } catch {}
const hashes = old.lockSha256 === lock ? { ...old.hashes } : {};
hashes[system] = hash;
const sorted = Object.fromEntries(Object.keys(hashes).sort().map((k) => [k, hashes[k]]));
const out = {
  comment: "Written by scripts/npm-deps-hash.sh: the sha256 of package-lock.json and, per platform, the NAR hash of its `npm ci --ignore-scripts` tree (nix/package.nix's npmDeps). Do not edit by hand.",
  lockSha256: lock,
  hashes: sorted,
};
fs.writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
console.error(`npm-deps-hash: ${file}: ${system} ${hash}`);
JS

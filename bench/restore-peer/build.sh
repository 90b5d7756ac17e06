#!/usr/bin/env bash
# Builds the compiled restore peer (main.go) for `npm run bench -- restore` from Debian's
# packages: Go 1.19 and filippo.io/age 1.1 with its dependencies, installed here when
# missing (as root). usage: build.sh OUTPUT
set -euo pipefail
out=${1:?usage: build.sh OUTPUT}
packages=(golang-go golang-filippo-age-dev golang-golang-x-crypto-dev golang-filippo-edwards25519-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench: installing Debian packages for the compiled peer: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cd "$(dirname "$0")"
# GOPATH mode over Debian's source packages; a static binary, as sops-nix ships its installer
GO111MODULE=off GOPATH=/usr/share/gocode CGO_ENABLED=0 go build -o "$out" main.go

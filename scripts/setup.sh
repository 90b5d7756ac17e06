#!/usr/bin/env bash
# Installs everything nixseal's build, tests and demo need on a Debian 12 machine (as root):
# Debian packages, npm packages (npm ci builds dist/ through "prepare"), and the cached
# test-host base image.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  age                 # the interop peer (age 1.1)
  openssh-server openssh-client
  debootstrap         # test hosts' base image
  systemd dbus        # test hosts boot real systemd
  gnome-keyring dbus-x11 libsecret-1-0  # a real OS keychain for the admin identity tests
  nix-bin             # nix-instantiate --parse for nix/*.nix
  inotify-tools       # runs the NixOps-compatible key unit scripts in test/nix
  iproute2 util-linux procps psmisc kmod
  python3             # its sqlite3 builds NixOps-shaped state files (NixOps is Python) for the import tests
  wireguard-tools openssl whois apache2-utils  # peers of the generators: wg, openssl passwd, mkpasswd, htpasswd
  postgresql          # the server's replicated store; tests start clusters of their own, never the system's
  chromium fonts-dejavu-core  # the server's fleet page, screenshotted headless in its test
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error

if [[ -x test/hosts/image/build-base.sh ]]; then
  echo "setup: test-host base image"
  bash test/hosts/image/build-base.sh
fi
echo "setup: done"

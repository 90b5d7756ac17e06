#!/usr/bin/env bash
# Installs everything nixseal's build, tests and demo need on a Debian 12 machine (as root):
# Debian packages, npm packages (npm ci builds dist/ through "prepare"), nixseal itself
# (npm install -g of this clone: nixseal, nixseal-agent and nixseal-server on PATH, the
# man page, the bash completion), and the cached test-host base image.
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

# The one install (docs/install.md): this clone, linked into npm's global prefix. npm ci
# has just built it, so no scripts run again.
echo "setup: npm install -g (nixseal, nixseal-agent, nixseal-server on PATH)"
npm install -g --ignore-scripts --no-audit --no-fund --loglevel=error .
bin="$(npm prefix -g)/bin"
case ":$(env -i HOME="$HOME" bash -lc 'echo "$PATH"' 2>/dev/null):" in
  *":$bin:"*) ;;
  *) echo "setup: warning: $bin (npm's global bin) is not on a login shell's PATH; add it" >&2 ;;
esac
if [[ -d /usr/share/bash-completion/completions ]]; then
  node dist/cli/bin.js completion bash > /usr/share/bash-completion/completions/nixseal
fi

if [[ -x test/hosts/image/build-base.sh ]]; then
  echo "setup: test-host base image"
  bash test/hosts/image/build-base.sh
fi
echo "setup: done"

#!/usr/bin/env bash
# Builds (once) the read-only base image every test host boots from: a debootstrap
# --variant=minbase of Debian bookworm with systemd, sshd and age, prepared to boot as a
# container (see /work/shared/TESTHOSTS.md and test/README.md).
#
# Prints the image directory on stdout (its only stdout line); progress goes to stderr.
# The image lives at $NIXSEAL_TESTHOST_CACHE/base-<hash>, where <hash> covers this script
# (the recipe and its package list), so editing the recipe builds a new image and an
# unchanged recipe is a fast no-op. The build runs in a temp dir renamed into place at the
# end, so a killed build never leaves a half image that looks valid.
set -euo pipefail

# The recipe. Editing anything in this file changes the image hash.
PACKAGES=(
  systemd systemd-sysv dbus      # PID 1 and the bus
  openssh-server openssh-client  # each host's own sshd; ssh between hosts
  sudo passwd                    # users and groups, as on a real host
  procps util-linux iproute2 kmod
  age                            # the agenix-style baseline runs inside hosts
  ca-certificates
)
SUITE=bookworm
# Units that cannot work in a PID/mount namespace sharing the box's kernel, /dev and network.
MASKED_UNITS=(
  getty@.service serial-getty@.service console-getty.service container-getty@.service
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
  systemd-udev-trigger.service systemd-udev-settle.service
  systemd-modules-load.service systemd-sysctl.service systemd-remount-fs.service
  systemd-firstboot.service systemd-timesyncd.service
  sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount
  dev-hugepages.mount dev-mqueue.mount
  e2scrub_all.timer e2scrub_reap.service fstrim.timer apt-daily.timer apt-daily-upgrade.timer
  man-db.timer systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
  systemd-pstore.service systemd-hwdb-update.service
  # No console to ask passwords on; each path unit costs an inotify instance, and root's
  # instances are shared by every machine on the box (fs.inotify.max_user_instances).
  systemd-ask-password-console.path systemd-ask-password-wall.path
  systemd-ask-password-console.service systemd-ask-password-wall.service
)

log() { printf 'build-base: %s\n' "$*" >&2; }
die() { printf 'build-base: error: %s\n' "$*" >&2; exit 1; }

self="$(readlink -f "${BASH_SOURCE[0]}")"
hash="$(sha256sum "$self" | cut -c1-16)"
cache="${NIXSEAL_TESTHOST_CACHE:-/var/cache/nixseal/testhosts}"
image="$cache/base-$hash"
marker=".nixseal-testhost-base"

if [[ -f "$image/$marker" ]]; then
  echo "$image"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap and chroot need it); run: sudo bash $0"
command -v debootstrap >/dev/null || die "debootstrap is missing; run: apt-get install -y debootstrap"

# The mirror the box's own apt sources name (deb822 .sources or one-line .list), never a
# hard-coded host: only the box's mirror is reachable in some sandboxes.
find_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # Paragraphs whose Suites name the plain suite (not -security/-updates) give the URI.
    awk -v suite="$SUITE" '
      function flush() { if (uri != "" && ok && !disabled) { print uri; found = 1; exit } uri = ""; ok = 0; disabled = 0 }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      /^Enabled:[[:space:]]*no/ { disabled = 1 }
      END { if (!found) flush() }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk -v suite="$SUITE" '$1 == "deb" { n = 2; if ($2 ~ /^\[/) { while ($n !~ /\]$/) n++; n++ } if ($(n+1) == suite) print $n }' "$f"
  done
}
mirror="${NIXSEAL_TESTHOST_MIRROR:-$(find_mirror | head -n1)}"
[[ -n $mirror ]] || die "no Debian $SUITE mirror found in /etc/apt/sources.list{,.d/*}; set NIXSEAL_TESTHOST_MIRROR=URI"

mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9 # one build at a time (setup.sh and a test run may race)
if [[ -f "$image/$marker" ]]; then
  echo "$image"
  exit 0
fi
# Whatever a killed build left is garbage: we hold the lock, nobody else is building.
# --one-file-system: never descend into something still mounted there.
rm -rf --one-file-system "$cache"/.building-* "$image"

tmp="$cache/.building-$hash-$$"
trap 'rm -rf --one-file-system "$tmp"' EXIT
log "debootstrap $SUITE from $mirror into $tmp (about a minute)"
include="$(IFS=,; echo "${PACKAGES[*]}")"
# In a mount namespace of its own: the proc/sys mounts debootstrap makes inside the target
# vanish with it, even when the build is killed.
if ! unshare --mount --propagation private debootstrap --variant=minbase --include="$include" "$SUITE" "$tmp" "$mirror" >"$cache/.build.log" 2>&1; then
  tail -n 30 "$cache/.build.log" >&2
  die "debootstrap failed (full log: $cache/.build.log)"
fi

log "preparing the image for container boot"
# Each host gets its own keys and machine id at first boot (the harness writes them into
# the host's upper dir); none may be shared through the image.
rm -f "$tmp"/etc/ssh/ssh_host_*
: >"$tmp/etc/machine-id"
rm -f "$tmp/var/lib/dbus/machine-id"
for unit in "${MASKED_UNITS[@]}"; do
  ln -sfn /dev/null "$tmp/etc/systemd/system/$unit"
done
cat >"$tmp/etc/ssh/sshd_config.d/10-nixseal-testhost.conf" <<'EOF'
# nixseal test host: keys only, no DNS lookups (there is no network beyond loopback).
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
EOF
# A unit that ignores SIGTERM would hold a clean reboot for systemd's default 90 s; tests
# want a hung stop to show up as a failure long before the harness's 60 s reboot timeout.
mkdir -p "$tmp/etc/systemd/system.conf.d"
cat >"$tmp/etc/systemd/system.conf.d/10-nixseal-testhost.conf" <<'EOF'
[Manager]
DefaultTimeoutStopSec=15s
EOF
# Mount points for what the harness binds in read-only: the box's node and the project.
mkdir -p "$tmp/opt/nixseal" "$tmp/usr/local/bin"
: >"$tmp/usr/local/bin/node"
chmod 0755 "$tmp/usr/local/bin/node"
for pair in "nixseal-agent:host-agent/bin.cjs" "nixseal:cli/bin.js"; do
  cat >"$tmp/usr/local/bin/${pair%%:*}" <<EOF
#!/bin/sh
exec /usr/local/bin/node /opt/nixseal/dist/${pair#*:} "\$@"
EOF
  chmod 0755 "$tmp/usr/local/bin/${pair%%:*}"
done
unshare --mount --propagation private chroot "$tmp" apt-get clean
rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin "$tmp"/var/log/*.log
echo "$hash" >"$tmp/$marker"

mv -T "$tmp" "$image"
trap - EXIT
log "image ready: $image"

# Images of older recipes: removed once no machine has them mounted (a machine's overlay
# shows in its own processes' mountinfo) and they are an hour old, so a run that started
# with the previous recipe is not pulled from under its feet.
while IFS= read -r old; do
  if grep -qs -- "lowerdir=$old[,: ]" /proc/[0-9]*/mountinfo; then continue; fi
  log "removing the image of an older recipe: $old"
  rm -rf --one-file-system "$old"
done < <(find "$cache" -mindepth 1 -maxdepth 1 -type d -name 'base-*' ! -path "$image" -mmin +60)
echo "$image"

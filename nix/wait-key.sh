#!/bin/sh
# The start of a NixOS `<name>-key.service` (nix/module.nix): succeed as soon as
# KEY exists, or fail after SECONDS with a message naming the secret and the way
# out, so a declared secret that never arrives fails its unit (and the units that
# need it) instead of holding boot or `nixos-rebuild switch`.
#
#   wait-key NAME KEY SECONDS HOST [template]
#
# "template" when NAME is a file the agent renders from a template: the messages
# then say so and name the template command.
#
# Polled every 0.1 s: the agent makes KEY a link into /run/nixseal/current, whose
# target may appear after the link, and an inotify watch would miss that.
set -u
name=$1 key=$2 seconds=$3 host=$4 kind=${5:-secret}
if [ "$kind" = template ]; then remove="nixseal template set $name --rm-host $host"; else remove="nixseal secrets set $name --rm-host $host"; fi
tries=$((seconds * 10))
while [ ! -e "$key" ]; do
  if [ "$tries" -le 0 ]; then
    echo "nixseal: $kind \"$name\" is not in place after ${seconds}s ($key is missing)." >&2
    echo "nixseal: this system expects it (nixseal-secrets.json) but the host has not received it, or could not restore it." >&2
    echo "nixseal: see \"nixseal-agent status\" and \"journalctl -u nixseal-restore\" on the host; from the operator's repository run \"nixseal deploy $host\", or remove the $kind from this host ($remove) and deploy." >&2
    exit 1
  fi
  tries=$((tries - 1))
  sleep 0.1
done

# A NixOps-compatible key unit, `<name>-key.service`: active while
# `<keysDir>/<name>` exists, activating (waiting) while it does not. NixOps
# defines these (nix/keys.nix there) and services written for it order
# After=/Wants= on them; nixseal keeps them working.
#
# Pure (builtins only) so test/nix/key-service.test.ts can run the scripts with
# bash and inotifywait against a real directory. module.nix adds `path` and
# the ordering on nixseal-secrets.target.
{ name, keysDir }:

let
  quote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  key = "${keysDir}/${name}";
in
{
  description = "nixseal key ${name} (NixOps-compatible: active while ${key} exists)";

  # A generation switch can flap it: never rate-limit the restarts.
  unitConfig.StartLimitIntervalSec = 0;
  serviceConfig = {
    Type = "simple";
    Restart = "always";
    RestartSec = "100ms";
    TimeoutStartSec = "infinity";
  };

  # Starting = waiting until the key exists. The watch is armed before the
  # test, and times out, so a missed event (a link whose target appears
  # later) only delays the start, never hangs it.
  preStart = ''
    key=${quote key}
    dir=${quote keysDir}
    while :; do
      inotifywait -qq -t 5 -e create -e moved_to -e attrib "$dir" & watcher=$!
      if [ -e "$key" ]; then kill "$watcher" 2>/dev/null || true; exit 0; fi
      # Exit 2 is the timeout; anything else (no inotify watches left) backs off.
      wait "$watcher" || [ $? -eq 2 ] || sleep 1
    done
  '';

  # Running = the key exists. The watch follows /run/keys/<name> to the
  # generation's file, so a pruned generation wakes it up; it then looks
  # again and stays while the name still resolves. When the key is gone it
  # exits, and Restart=always brings the unit back to waiting.
  script = ''
    key=${quote key}
    dir=${quote keysDir}
    while [ -e "$key" ]; do
      inotifywait -qq -t 60 -e delete_self -e move_self -e delete -e moved_from "$key" "$dir" \
        || [ $? -eq 2 ] || sleep 1
    done
  '';
}

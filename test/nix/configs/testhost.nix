# The NixOS configuration whose units test/hosts/nixos-units.test.ts boots on a real
# systemd test host: consumers of every kind (a service, a socket and a path unit),
# one that needs a secret the host never gets, and a short key timeout.
{ ... }:
let
  # What each consumer found when it started: "present" or "missing" (never the value).
  record = key: out: "/bin/sh -c 'if test -e /run/keys/${key}; then echo present; else echo missing; fi > /run/${out}'";
in
{
  imports = [ ./minimal.nix ];
  services.nixseal.keyTimeout = 3;
  # Users made by systemd-sysusers: the secrets for users get their own early unit.
  systemd.sysusers.enable = true;

  systemd.services.consumer-svc = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig = { Type = "oneshot"; RemainAfterExit = true; ExecStart = record "svc-key" "consumer-svc"; };
  };
  systemd.sockets.consumer = {
    wantedBy = [ "sockets.target" ];
    listenStreams = [ "/run/consumer.sock" ];
    socketConfig.ExecStartPre = record "sock-key" "consumer-socket";
  };
  systemd.services.consumer = { serviceConfig.ExecStart = "/bin/true"; };
  systemd.paths.consumer-watch = { wantedBy = [ "paths.target" ]; pathConfig.PathExists = "/etc/hostname"; };
  systemd.services.consumer-watch = {
    serviceConfig = { Type = "oneshot"; RemainAfterExit = true; ExecStart = record "path-key" "consumer-path"; };
  };
  systemd.services.needs-missing = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig = { Type = "oneshot"; RemainAfterExit = true; ExecStart = "/bin/true"; };
  };
}

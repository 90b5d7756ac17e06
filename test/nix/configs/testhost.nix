# The NixOS configuration whose units test/hosts/nixos-units.test.ts boots on a real
# systemd test host: consumers of every kind (a service, a socket and a path unit),
# a service that reads a file rendered from a template through EnvironmentFile=,
# one that needs a secret the host never gets, and a short key timeout.
{ config, ... }:
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
  # The rendered env file, by the path the module gives it; records a hash of what it read.
  systemd.services.consumer-env = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      EnvironmentFile = config.services.nixseal.secretPaths."app.env";
      ExecStart = "/bin/sh -c 'echo -n \"$$TOKEN\" | sha256sum | cut -c1-64 > /run/consumer-env'";
    };
  };
  systemd.services.needs-missing = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig = { Type = "oneshot"; RemainAfterExit = true; ExecStart = "/bin/true"; };
  };
}

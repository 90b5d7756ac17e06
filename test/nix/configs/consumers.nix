# Consumers of every kind a secret can be needed by: a service, a socket, a path
# and a timer unit (sockets, paths and timers start before basic.target).
{ pkgs, ... }:
{
  imports = [ ./minimal.nix ];
  systemd.services.api = { serviceConfig.ExecStart = "${pkgs.coreutils}/bin/true"; };
  systemd.sockets.api = { wantedBy = [ "sockets.target" ]; listenStreams = [ "/run/api.sock" ]; };
  systemd.services.watch = { serviceConfig.ExecStart = "${pkgs.coreutils}/bin/true"; };
  systemd.paths.watch = { wantedBy = [ "paths.target" ]; pathConfig.PathExists = "/run/watch-me"; };
  systemd.services.rotate = { serviceConfig.Type = "oneshot"; serviceConfig.ExecStart = "${pkgs.coreutils}/bin/true"; };
  systemd.timers.rotate = { wantedBy = [ "timers.target" ]; timerConfig.OnCalendar = "daily"; };
}

# A host with several secrets: owners, groups, modes, paths, restart/reload units,
# and consumers that modules define (caddy, podman-app) plus one written for NixOps.
{ pkgs, ... }:
{
  imports = [ ./minimal.nix ];
  users.users.caddy = { isSystemUser = true; group = "caddy"; };
  users.groups.caddy = { };
  users.users.postgres = { isSystemUser = true; group = "postgres"; };
  users.groups.postgres = { };
  systemd.services.caddy = { wantedBy = [ "multi-user.target" ]; serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity"; };
  systemd.services.podman-app = { wantedBy = [ "multi-user.target" ]; serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity"; };
  systemd.services.postgresql = { wantedBy = [ "multi-user.target" ]; serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity"; };
  # Written for NixOps keys and left as it was.
  systemd.services.legacy-worker = {
    wantedBy = [ "multi-user.target" ];
    after = [ "keys.target" "worker-token-key.service" ];
    wants = [ "keys.target" "worker-token-key.service" ];
    serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity";
  };
}

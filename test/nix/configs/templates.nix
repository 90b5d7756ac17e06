# Files rendered from templates, used the way a service's config uses them: an
# env file through EnvironmentFile= and a Caddyfile-like config on a fixed path,
# both by the path the module gives each (services.nixseal.secretPaths).
{ config, pkgs, ... }:
let paths = config.services.nixseal.secretPaths; in
{
  imports = [ ./minimal.nix ];
  users.users.caddy = { isSystemUser = true; group = "caddy"; };
  users.groups.caddy = { };
  systemd.services.app = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig = { ExecStart = "${pkgs.coreutils}/bin/sleep infinity"; EnvironmentFile = paths."app.env"; };
  };
  systemd.services.caddy = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity --config /etc/caddy/Caddyfile";
  };
}

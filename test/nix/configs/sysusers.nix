# Users made by systemd-sysusers; a system user's password comes from a secret.
{ config, ... }:
{
  imports = [ ./minimal.nix ];
  systemd.sysusers.enable = true;
  users.users.operator = {
    isSystemUser = true;
    group = "users";
    hashedPasswordFile = config.services.nixseal.secretPaths.operator-password;
  };
}

# Users made by userborn; a user's password comes from a secret.
{ config, ... }:
{
  imports = [ ./minimal.nix ];
  services.userborn.enable = true;
  users.users.alice = {
    isNormalUser = true;
    hashedPasswordFile = config.services.nixseal.secretPaths.alice-password;
  };
}

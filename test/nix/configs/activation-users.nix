# Users made by NixOS' activation script (update-users-groups.pl, the default);
# root's password comes from a secret.
{ config, ... }:
{
  imports = [ ./minimal.nix ];
  users.users.root.hashedPasswordFile = config.services.nixseal.secretPaths.root-password;
}

# The remaining options set away from their defaults: keyTimeout, keepGenerations, fsType.
{ ... }:
{
  imports = [ ./minimal.nix ];
  services.nixseal.keyTimeout = 5;
  services.nixseal.keepGenerations = 10;
  services.nixseal.fsType = "ramfs";
}

{ ... }:
{
  imports = [ ./minimal.nix ];
  services.nixseal.keyTimeout = 5;
}

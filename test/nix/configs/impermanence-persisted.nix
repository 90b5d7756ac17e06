# The impermanence host with /var/lib/nixseal persisted too.
{ ... }:
{
  imports = [ ./impermanence.nix ];
  fileSystems."/var/lib/nixseal" = { device = "/persist/var/lib/nixseal"; fsType = "none"; options = [ "bind" ]; };
}

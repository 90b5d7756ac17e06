# Pulling from a nixseal server from a timer (the default mode), signed bundles only.
{ ... }:
{
  imports = [ ./minimal.nix ];
  services.nixseal.server.url = "https://secrets.example.org";
  services.nixseal.server.trustKeys = [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx2k0hQ6Hd5pgy5sm0AXp0bUXWqExQpDYmxCw4rT+8k alice" ];
}

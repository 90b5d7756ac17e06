# A server to pull from, but no key to trust and no trustServer; and a key line that is none.
{ ... }:
{
  imports = [ ./minimal.nix ];
  services.nixseal.server.url = "ftp://secrets.example.org";
  services.nixseal.server.trustKeys = [ "/etc/nixseal/operator.pub" ];
  services.nixseal.server.trustServer = true;
}

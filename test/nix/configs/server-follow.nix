# Following a nixseal server (long-poll), at a URL whose path systemd would expand
# (%, $) if the module did not quote it.
{ ... }:
{
  imports = [ ./minimal.nix ];
  services.nixseal.server.url = "http://127.0.0.1:8443/nix%20seal/$HOME";
  services.nixseal.server.follow = true;
  services.nixseal.server.trustServer = true;
}

# A configuration written for the earlier module, which declared secrets here.
{ ... }:
{
  imports = [ ./minimal.nix ];
  services.nixseal.secrets.db-password = { owner = "postgres"; neededBy = [ "postgresql.service" ]; };
}

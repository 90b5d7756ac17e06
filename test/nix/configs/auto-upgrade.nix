# system.autoUpgrade: nixos-upgrade.service switches unattended, so no unit of
# the module may wait without a bound.
{ pkgs, ... }:
{
  imports = [ ./minimal.nix ];
  system.autoUpgrade.enable = true;
  system.autoUpgrade.flake = "/etc/nixos#web1";
  systemd.services.app = { wantedBy = [ "multi-user.target" ]; serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity"; };
}

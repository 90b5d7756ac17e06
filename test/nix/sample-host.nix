# A sample NixOS host for the evaluation test (test/nix/eval.test.ts): the
# NixOps-era blog box, reduced to the units that consume keys. Evaluated only,
# never built.
{ pkgs, ... }:

{
  system.stateVersion = "24.05";
  boot.loader.grub.enable = false;
  fileSystems."/" = { device = "/dev/vda1"; fsType = "ext4"; };

  services.openssh.enable = true;

  users.users.caddy = { isSystemUser = true; group = "caddy"; };
  users.groups.caddy = { };

  # As services.caddy and virtualisation.oci-containers would name them.
  systemd.services.caddy = {
    wantedBy = [ "multi-user.target" ];
    script = "exec ${pkgs.coreutils}/bin/sleep infinity";
  };
  systemd.services.podman-app = {
    wantedBy = [ "multi-user.target" ];
    script = "exec ${pkgs.coreutils}/bin/sleep infinity";
  };
  # A unit written for NixOps keys, left unchanged.
  systemd.services.legacy-worker = {
    wantedBy = [ "multi-user.target" ];
    after = [ "keys.target" "worker-token-key.service" ];
    wants = [ "keys.target" "worker-token-key.service" ];
    script = "exec ${pkgs.coreutils}/bin/sleep infinity";
  };

  services.nixseal = {
    enable = true;
    secrets = {
      caddy-tls = {
        owner = "caddy";
        group = "caddy";
        mode = "0400";
        path = "/var/lib/caddy/tls.key";
        reloadUnits = [ "caddy.service" ];
        neededBy = [ "caddy.service" ];
      };
      app-env = {
        restartUnits = [ "podman-app.service" ];
        neededBy = [ "podman-app.service" ];
      };
      worker-token = { owner = "ghost"; };
    };
  };
}

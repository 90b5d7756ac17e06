# An impermanence host: / is a tmpfs, /nix and /persist are disks, and the SSH
# host keys are bind-mounted from /persist; /var/lib/nixseal is not persisted.
{ ... }:
{
  boot.loader.grub.enable = false;
  fileSystems."/" = { device = "none"; fsType = "tmpfs"; };
  fileSystems."/nix" = { device = "/dev/sda2"; fsType = "ext4"; };
  fileSystems."/persist" = { device = "/dev/sda3"; fsType = "ext4"; };
  fileSystems."/etc/ssh" = { device = "/persist/etc/ssh"; fsType = "none"; options = [ "bind" ]; };
  services.openssh.enable = true;
  services.nixseal.enable = true;
}

# No sshd: no host keys to default to.
{ ... }:
{
  boot.loader.grub.enable = false;
  fileSystems."/".device = "/dev/sda1";
  services.openssh.enable = false;
  services.nixseal.enable = true;
}

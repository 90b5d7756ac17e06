# The least a host needs: the module on, its generated file (given by the test).
{ ... }:
{
  boot.loader.grub.enable = false;
  fileSystems."/".device = "/dev/sda1";
  services.openssh.enable = true;
  services.nixseal.enable = true;
}

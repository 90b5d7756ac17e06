# No sshd, and the key the secrets are encrypted to named by hand.
{ ... }:
{
  imports = [ ./openssh-disabled.nix ];
  services.nixseal.identityPaths = [ "/var/lib/nixseal-key/ssh_host_ed25519_key" ];
}

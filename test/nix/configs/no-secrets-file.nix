# The module on, but no generated file given.
{ ... }: { imports = [ ./minimal.nix ]; }

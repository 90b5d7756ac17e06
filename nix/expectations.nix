# The per-secret expectations a NixOS host declares (services.nixseal.secrets),
# as the JSON file the agent reads (/etc/nixseal/expectations.json) and checks
# each bundle against before activating it.
#
# `value` and `json` need builtins only (the tests evaluate them without
# nixpkgs); `file` builds the file and validates it with `nixseal-agent check`,
# the same schema code the agent runs at boot, so a bad declaration fails the
# build instead of the boot.
{ secrets, runCommand ? null, package ? null }:

let
  one = name: s: {
    inherit name;
    inherit (s) owner group mode restartUnits reloadUnits;
  } // (if (s.path or null) != null then { inherit (s) path; } else { });

  value = {
    format = "nixseal-expectations/v1";
    secrets = map (name: one name secrets.${name}) (builtins.attrNames secrets);
  };
  json = builtins.toJSON value;
in
{
  inherit value json;

  file = runCommand "nixseal-expectations.json"
    {
      inherit json;
      passAsFile = [ "json" ];
      nativeBuildInputs = [ package ];
    } ''
    cp "$jsonPath" "$out"
    nixseal-agent check "$out"
  '';
}

# What `services.nixseal.secrets.<name>.neededBy` adds to the units it names:
# Requires= and After= on nixseal-secrets.target and, with NixOps key units,
# Wants= and After= on each `<name>-key.service`, so the unit starts only once
# its own keys are there.
#
# Pure (builtins only; test/nix/needed-by.test.ts evaluates it). Returns the
# attrsets module.nix assigns to systemd.services, .sockets, .targets, .timers
# and .paths: one entry per consuming unit, all its secrets merged.
{ secrets, nixopsKeys }:

let
  inherit (builtins) attrNames concatMap elem filter foldl' listToAttrs map match;

  kinds = [ "service" "socket" "target" "timer" "path" ];

  # "caddy.service" -> { kind = "service"; base = "caddy"; }
  split = unit:
    let m = match "(.+)[.]([a-z]+)" unit;
    in if m == null || !(elem (builtins.elemAt m 1) kinds)
       then throw "nixseal: neededBy names ${unit}; use a .service, .socket, .target, .timer or .path unit"
       else { base = builtins.elemAt m 0; kind = builtins.elemAt m 1; };

  # unit -> [ secret names ], in declaration order of the secrets.
  consumers = foldl'
    (acc: name: foldl' (acc': unit: acc' // { ${unit} = (acc'.${unit} or [ ]) ++ [ name ]; })
      acc (secrets.${name}.neededBy or [ ]))
    { } (attrNames secrets);

  wiring = names:
    let keyUnits = if nixopsKeys then map (n: "${n}-key.service") names else [ ];
    in {
      requires = [ "nixseal-secrets.target" ];
      wants = keyUnits;
      after = [ "nixseal-secrets.target" ] ++ keyUnits;
    };

  ofKind = kind: listToAttrs (concatMap
    (unit: let u = split unit; in
      if u.kind == kind then [ { name = u.base; value = wiring consumers.${unit}; } ] else [ ])
    (attrNames consumers));
in
{
  services = ofKind "service";
  sockets = ofKind "socket";
  targets = ofKind "target";
  timers = ofKind "timer";
  paths = ofKind "path";
}

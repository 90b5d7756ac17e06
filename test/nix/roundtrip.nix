# Test helper: turns nix/units.nix's NixOS-shaped attrsets back into unit-file
# sections, the way NixOS renders them (list options become [Unit] keys,
# wantedBy/requiredBy/aliases the [Install] relations). If this equals the
# sections of units.json, the mapping lost and invented nothing.
{ mapped }:

let
  inherit (builtins) attrNames filter listToAttrs map;

  unitKeys = {
    requires = "Requires"; wants = "Wants"; after = "After"; before = "Before";
    bindsTo = "BindsTo"; partOf = "PartOf"; conflicts = "Conflicts";
    requisite = "Requisite"; onFailure = "OnFailure"; documentation = "Documentation";
  };
  installKeys = { wantedBy = "WantedBy"; requiredBy = "RequiredBy"; aliases = "Alias"; };

  keysFrom = table: def: listToAttrs (map (o: { name = table.${o}; value = def.${o}; })
    (filter (o: def ? ${o} && def.${o} != [ ]) (attrNames table)));

  nonEmpty = sections: listToAttrs (map (s: { name = s; value = sections.${s}; })
    (filter (s: sections.${s} != { }) (attrNames sections)));

  common = def: {
    Unit = (def.unitConfig or { }) // keysFrom unitKeys def
      // (if def ? description then { Description = def.description; } else { });
    Install = keysFrom installKeys def;
  };

  mountName = where: builtins.concatStringsSep "-"
    (map (builtins.replaceStrings [ "-" ] [ "\\x2d" ])
      (filter (c: builtins.isString c && c != "") (builtins.split "/" where))) + ".mount";
in
listToAttrs (
  map (n: { name = "${n}.service"; value = nonEmpty (common mapped.services.${n} // { Service = mapped.services.${n}.serviceConfig; }); }) (attrNames mapped.services)
  ++ map (n: { name = "${n}.socket"; value = nonEmpty (common mapped.sockets.${n} // {
    Socket = mapped.sockets.${n}.socketConfig
      // (if mapped.sockets.${n}.listenStreams != [ ] then { ListenStream = mapped.sockets.${n}.listenStreams; } else { });
  }); }) (attrNames mapped.sockets)
  ++ map (n: { name = "${n}.target"; value = nonEmpty (common mapped.targets.${n}); }) (attrNames mapped.targets)
  ++ map (n: { name = "${n}.timer"; value = nonEmpty (common mapped.timers.${n} // { Timer = mapped.timers.${n}.timerConfig; }); }) (attrNames (mapped.timers or { }))
  ++ map (m: {
    name = mountName m.where;
    value = nonEmpty (common m // {
      Mount = m.mountConfig // { What = m.what; Where = m.where; }
        // (if m.type != "" then { Type = m.type; } else { })
        // (if m.options != "" then { Options = m.options; } else { });
    });
  }) mapped.mounts
)

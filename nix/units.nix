# The agent's systemd units as NixOS options, from the one source of truth that
# `nixseal-agent install` also renders: host-agent/systemd/units.json.
#
# Pure: builtins only (no nixpkgs), so `nix-instantiate --eval --strict` can run
# it on a machine without nixpkgs and the tests can compare it with the
# TypeScript renderer. module.nix calls it; nothing here knows about options.
#
#   import ./units.nix {
#     units = builtins.fromJSON (builtins.readFile ../host-agent/systemd/units.json);
#     placeholders = { "@agent@" = ".../bin/nixseal-agent"; "@config@" = "/etc/nixseal/agent.json";
#                      "@readWritePaths@" = [ "/var/lib/caddy" ]; ... };
#   }
#
# units.json (format nixseal-units/v1): "units" maps unit names to sections;
# "hardening" is merged into the [Service] section of each of "hardenedUnits";
# a placeholder whose value is a list stands alone as a list item and expands to
# zero or more items; any placeholder left over fails evaluation, naming it.
#   => { sections = { "<unit>" = { Unit = { ... }; Service = { ... }; ... }; };
#        services = { <n> = { description, after, ..., unitConfig, serviceConfig }; };
#        sockets  = { <n> = { ..., listenStreams, socketConfig }; };
#        targets  = { <n> = { ... }; };
#        timers   = { <n> = { ..., timerConfig }; };
#        mounts   = [ { what, where, type, options, mountConfig, ... } ];
#        names    = [ "<unit>" ... ]; }
{ units, placeholders }:

let
  inherit (builtins)
    attrNames concatLists concatStringsSep elem filter isAttrs isBool isInt
    isList isString listToAttrs map match removeAttrs replaceStrings split
    stringLength substring;

  unitTable = units.units or (throw "nixseal: units.json has no \"units\" object");
  # Every unit must be mapped: one skipped here would exist on plain hosts only.
  names = map
    (n: if match "[-A-Za-z0-9:_.@\\\\]+[.](service|socket|target|timer|mount)" n != null then n
        else throw "nixseal: units.json has ${n}, a unit nix/units.nix does not map (it maps .service, .socket, .target, .timer and .mount units); extend it")
    (attrNames unitTable);
  hardening = units.hardening or { };
  hardenedUnits = units.hardenedUnits or [ ];

  # --- placeholders -------------------------------------------------------
  phNames = filter (n: isString placeholders.${n}) (attrNames placeholders);
  phValues = map (n: placeholders.${n}) phNames;
  listPh = filter (n: isList placeholders.${n}) (attrNames placeholders);
  substitute = where: s:
    let out = replaceStrings phNames phValues s;
    in if match ".*@[A-Za-z][A-Za-z0-9_]*@.*" out != null
       then throw "nixseal: ${where} has a placeholder this module does not know (${out}); known: ${concatStringsSep ", " (attrNames placeholders)}. Add it to nix/module.nix's placeholders."
       else out;

  # JSON scalars as systemd writes them; lists stay lists (repeated Key= lines).
  value = where: v:
    if isString v then substitute where v
    else if isBool v then v
    else if isInt v then v
    else if builtins.isFloat v then toString v
    else if isList v then concatLists (map (x:
      if isString x && elem x listPh then map (value where) placeholders.${x} else [ (value where x) ]) v)
    else throw "nixseal: ${where} must be a string, number, boolean or list, not ${builtins.typeOf v}";

  # "hardening" joins [Service] of the hardened units; a key in both is an error,
  # since which one wins would be a second source of truth.
  withHardening = name: u:
    if !(elem name hardenedUnits) then u
    else
      let
        service = u.Service or { };
        both = filter (k: service ? ${k}) (attrNames hardening);
      in
      if both != [ ] then throw "nixseal: ${name} sets ${concatStringsSep ", " both} in [Service] and in \"hardening\"; keep one"
      else u // { Service = hardening // service; };

  # A unit's sections with placeholders replaced, in JSON's own shape.
  sectionsOf = name:
    let u = withHardening name unitTable.${name};
    in if !isAttrs u then throw "nixseal: unit ${name} in units.json must be an object of sections"
       else listToAttrs (map (sec: {
         name = sec;
         value = listToAttrs (map (k: { name = k; value = value "${name} [${sec}] ${k}" u.${sec}.${k}; })
                   (attrNames u.${sec}));
       }) (attrNames u));
  sections = listToAttrs (map (n: { name = n; value = sectionsOf n; }) names);

  # --- mapping onto NixOS' option names -----------------------------------
  words = v:
    if isList v then concatLists (map words v)
    else filter (w: isString w && w != "") (split "[ \t]+" (toString v));

  # [Unit] keys that NixOS has first-class list options for. Setting them in
  # unitConfig instead would clash with NixOS' own rendering of these options.
  unitListKeys = {
    Requires = "requires"; Wants = "wants"; After = "after"; Before = "before";
    BindsTo = "bindsTo"; PartOf = "partOf"; Conflicts = "conflicts";
    Requisite = "requisite"; OnFailure = "onFailure"; Documentation = "documentation";
  };
  installKeys = { WantedBy = "wantedBy"; RequiredBy = "requiredBy"; Alias = "aliases"; };

  common = name: s:
    let
      unit = s.Unit or { };
      install = s.Install or { };
      badInstall = filter (k: !(installKeys ? ${k})) (attrNames install);
      listOpts = listToAttrs (map (k: { name = unitListKeys.${k}; value = words unit.${k}; })
        (filter (k: unitListKeys ? ${k}) (attrNames unit)));
      installOpts = listToAttrs (map (k: { name = installKeys.${k}; value = words install.${k}; })
        (attrNames install));
    in
    if badInstall != [ ] then throw "nixseal: ${name} [Install] ${concatStringsSep ", " badInstall}: NixOS has no equivalent; use WantedBy, RequiredBy or Alias"
    else listOpts // installOpts
      // (if unit ? Description then { description = toString unit.Description; } else { })
      // { unitConfig = removeAttrs unit ([ "Description" ] ++ attrNames unitListKeys); };

  only = name: s: allowed:
    let extra = filter (sec: !(elem sec allowed)) (attrNames s);
    in if extra != [ ] then throw "nixseal: ${name} has section(s) ${concatStringsSep ", " extra}; this kind of unit takes only ${concatStringsSep ", " allowed}"
       else s;

  baseName = name: suffix: substring 0 (stringLength name - stringLength suffix) name;
  hasSuffix = suffix: name:
    let l = stringLength suffix; n = stringLength name;
    in n >= l && substring (n - l) l name == suffix;

  # systemd-escape --path, for the few characters a mount point here may hold.
  escapePath = p:
    let parts = filter (c: isString c && c != "") (split "/" p);
    in concatStringsSep "-" (map (replaceStrings [ "-" ] [ "\\x2d" ]) parts);

  toService = name: s:
    let c = common name (only name s [ "Unit" "Service" "Install" ]);
    in c // { serviceConfig = s.Service or { }; };

  toTarget = name: s: common name (only name s [ "Unit" "Install" ]);

  toTimer = name: s:
    let c = common name (only name s [ "Unit" "Timer" "Install" ]);
    in c // { timerConfig = s.Timer or { }; };

  # NixOS renders listenStreams as ListenStream= lines itself.
  toSocket = name: s:
    let
      c = common name (only name s [ "Unit" "Socket" "Install" ]);
      sock = s.Socket or { };
    in
    c // {
      listenStreams = if sock ? ListenStream then (if isList sock.ListenStream then sock.ListenStream else [ sock.ListenStream ]) else [ ];
      socketConfig = removeAttrs sock [ "ListenStream" ];
    };

  toMount = name: s:
    let
      c = common name (only name s [ "Unit" "Mount" "Install" ]);
      m = s.Mount or { };
      where = m.Where or (throw "nixseal: ${name} needs [Mount] Where");
      options = m.Options or "";
    in
    if escapePath where + ".mount" != name
    then throw "nixseal: ${name} mounts ${where}, but systemd names that unit ${escapePath where}.mount"
    else c // {
      inherit where;
      what = m.What or (throw "nixseal: ${name} needs [Mount] What");
      type = m.Type or "";
      options = if isList options then concatStringsSep "," options else options;
      mountConfig = removeAttrs m [ "What" "Where" "Type" "Options" ];
    };

  pick = suffix: f: listToAttrs (map (n: { name = baseName n suffix; value = f n sections.${n}; })
    (filter (hasSuffix suffix) names));
in
{
  inherit names sections;
  paths = units.paths or { };
  mount = units.mount or { };
  tmpfiles = map (value "tmpfiles") (units.tmpfiles or [ ]);
  services = pick ".service" toService;
  sockets = pick ".socket" toSocket;
  targets = pick ".target" toTarget;
  timers = pick ".timer" toTimer;
  mounts = map (n: toMount n sections.${n}) (filter (hasSuffix ".mount") names);
}

# NixOS module: services.nixseal.
#
# It only turns two files into configuration; the agent owns the logic (the
# sops-nix way):
# - host-agent/systemd/units.json: the agent's own units, the same file
#   `nixseal-agent install` renders on plain systemd hosts (nix/units.nix maps it);
# - services.nixseal.secretsFile: hosts/<name>/nixseal-secrets.json, which the
#   nixseal CLI generates from the operator's repository (core/schema/host-secrets.ts).
#   Every secret's (and rendered template's) owner, group, mode, path, units and
#   consumers come from there; no per-secret option exists here, so the two cannot
#   disagree.
{ config, lib, pkgs, ... }:

let
  inherit (lib)
    attrNames attrValues concatMap concatStringsSep filter filterAttrs hasPrefix
    length literalExpression mapAttrs mapAttrs' mkEnableOption mkIf mkMerge mkOption
    mkRemovedOptionModule nameValuePair optional optionalAttrs optionals sort types unique;

  cfg = config.services.nixseal;

  unitsJson = builtins.fromJSON (builtins.readFile ../host-agent/systemd/units.json);
  nameRule = (builtins.fromJSON (builtins.readFile ../core/schema/names.json)).secretName;
  paths = unitsJson.paths;
  hostSecretsFormat = "nixseal-host-secrets/v1";

  # --- the generated file --------------------------------------------------
  file = if cfg.secretsFile == null then null else builtins.fromJSON (builtins.readFile cfg.secretsFile);
  fileFormat = if file == null then null else file.format or null;
  fileOk = fileFormat == hostSecretsFormat;
  fileSecrets = if fileOk then file.secrets else { };
  # Files the agent renders from templates: entries of the same shape, in the same
  # name space (/run/keys/<name>), wired exactly like secrets from here on.
  templates = if fileOk then file.templates or { } else { };
  secrets = fileSecrets // templates;
  sharedNames = filter (n: fileSecrets ? ${n}) (attrNames templates);
  kind = n: if templates ? ${n} then "template" else "secret";
  hostName = if fileOk then file.host else "HOST";
  forUsers = filterAttrs (_: s: s.neededForUsers) secrets;
  regular = filterAttrs (_: s: !s.neededForUsers) secrets;

  # core/schema/host-secrets.ts appliedDigest, over the same canonical list
  # (builtins.toJSON writes lists as that code does), so a hand edit is caught.
  # Secrets and templates count as one list there too.
  digestOf = s: "sha256:" + builtins.hashString "sha256" (builtins.toJSON [
    hostSecretsFormat
    (map (n: let x = s.${n}; in [ n x.owner x.group x.mode x.path x.restartUnits x.reloadUnits x.neededForUsers ])
      (sort builtins.lessThan (attrNames s)))
  ]);

  badNames = filter (n: builtins.match nameRule.pattern n == null) (attrNames secrets);
  caseTwins = filter (n: length (filter (m: lib.toLower m == lib.toLower n) (attrNames secrets)) > 1) (attrNames secrets);

  # --- derived wiring --------------------------------------------------------
  readWritePaths = unique (map (s: dirOf s.path) (filter (s: s.path != null) (attrValues secrets)));
  forUsersDir = paths.forUsersDir;
  keyUnit = name: "${name}-key.service";
  useSystemdUsers = config.systemd.sysusers.enable || config.services.userborn.enable;

  # What the agent reads at start (host-agent/config/schema.ts, strict).
  agentConfig = {
    inherit (cfg) identityPaths stateDir runDir keysDir keepGenerations;
    inherit readWritePaths forUsersDir;
    inherit (paths) socket systemSecrets;
  };
  agentConfigFile = pkgs.writeText "nixseal-agent.json" (builtins.toJSON agentConfig);

  agent = "${cfg.package}/bin/nixseal-agent";
  placeholders = {
    "@agent@" = agent;
    "@config@" = paths.config;
    "@fsType@" = unitsJson.mount.${cfg.fsType}.fsType;
    "@fsOptions@" = unitsJson.mount.${cfg.fsType}.fsOptions;
    # "-": a directory that is missing costs only its secret's link, never the whole restore.
    "@readWritePaths@" = map (d: "-${d}") readWritePaths;
    "@identityPaths@" = cfg.identityPaths;
  };
  units = import ./units.nix { units = unitsJson; inherit placeholders; };

  # --- pulling from a nixseal server (units.json's "pull") ---------------------
  pull = cfg.server;
  pullOn = pull.url != null;
  trustKeyFiles = lib.imap1 (i: k: pkgs.writeText "nixseal-trust-key-${toString i}.pub" (k + "\n")) pull.trustKeys;
  # One word of a command line for systemd, as host-agent/systemd/install-units.ts
  # systemdWord quotes it: specifiers (%) and variables ($) are expanded inside quotes too.
  systemdWord = w: "\"" + builtins.replaceStrings [ "\\" "\"" "%" "$" ] [ "\\\\" "\\\"" "%%" "$$" ] w + "\"";
  pullArgs = [ "--server" (toString pull.url) ]
    ++ (if pull.trustServer then [ "--trust-server" ] else concatMap (f: [ "--trust-key" "${f}" ]) trustKeyFiles)
    ++ optionals fileOk [ "--host" hostName ];
  pullNames = if pull.follow then unitsJson.pull.follow else unitsJson.pull.timer;
  pullUnits = import ./units.nix {
    units = unitsJson // {
      hardening = unitsJson.hardening // unitsJson.pull.hardening;
      hardenedUnits = filter (lib.hasSuffix ".service") pullNames;
      units = lib.getAttrs pullNames unitsJson.pull.units;
    };
    placeholders = placeholders // { "@pullArgs@" = concatStringsSep " " (map systemdWord pullArgs); };
  };
  trustKeyPattern = "(ssh-ed25519|ssh-rsa) [A-Za-z0-9+/]+={0,2}( [^\n]*)?";

  # The restore of the neededForUsers secrets where users are made by systemd
  # (sysusers, userborn): its own unit, with units.json's hardening, before them.
  forUsersUnits = import ./units.nix {
    inherit placeholders;
    units = unitsJson // {
      hardenedUnits = [ "nixseal-restore-for-users.service" ];
      units."nixseal-restore-for-users.service" = {
        Unit = {
          Description = "nixseal: restore the secrets users are created with";
          DefaultDependencies = "no";
          Requires = "run-nixseal.mount";
          After = [ "run-nixseal.mount" "systemd-remount-fs.service" ];
          Before = [ "systemd-sysusers.service" "userborn.service" "nixseal-restore.service" "sysinit.target" "shutdown.target" ];
          Conflicts = "shutdown.target";
          RequiresMountsFor = [ cfg.stateDir "@identityPaths@" ];
        };
        Service = {
          Type = "oneshot";
          RemainAfterExit = "yes";
          ExecStart = "@agent@ restore --for-users --config @config@";
        };
        Install.WantedBy = [ "sysinit.target" "systemd-sysusers.service" "userborn.service" ];
      };
    };
  };

  # units.json links /run/keys to the current generation on plain hosts. NixOS
  # mounts its own ramfs there (NixOps' keys, group "keys"); the agent then
  # makes per-name links inside it, so that rule is left out here.
  tmpfilesRules = filter (r: builtins.match "[^ ]+ +${cfg.keysDir} .*" r == null) units.tmpfiles;

  kernelHasNoswap = lib.versionAtLeast config.boot.kernelPackages.kernel.version unitsJson.mount.noswapMinKernel;

  # The filesystem a path lives on, from fileSystems (longest mount point that holds it).
  fsOf = path:
    let
      holds = mp: mp == "/" || path == mp || hasPrefix "${lib.removeSuffix "/" mp}/" path;
      mps = sort (a: b: builtins.stringLength a > builtins.stringLength b)
        (filter holds (attrNames config.fileSystems));
    in if mps == [ ] then null else config.fileSystems.${builtins.head mps} // { mountPoint = builtins.head mps; };
  volatile = path: let fs = fsOf path; in fs != null && builtins.elem (fs.fsType or "") [ "tmpfs" "ramfs" ];
  volatileWarning = what: path:
    let fs = fsOf path; in
    "services.nixseal: ${what} ${path} is on a ${fs.fsType} (fileSystems.\"${fs.mountPoint}\"), which does not survive a reboot; keep it on a persistent filesystem (e.g. a fileSystems entry or a bind mount from persistent storage for ${path})";

  numeric = v: builtins.match "[0-9]+" v != null;
  declaredUser = u: numeric u || config.users.users ? ${u};
  declaredGroup = g: numeric g || config.users.groups ? ${g};
in
{
  imports = [
    (mkRemovedOptionModule [ "services" "nixseal" "secrets" ] ''
      A secret's owner, group, mode, path, units and consumers now come from the
      operator's repository only: set services.nixseal.secretsFile = ./nixseal-secrets.json;
      (nixseal writes it into hosts/<name>/) and set neededBy with
      "nixseal secrets set NAME --needed-by UNIT".'')
    (mkRemovedOptionModule [ "services" "nixseal" "readWritePaths" ] ''
      The directories of the secrets' paths come from services.nixseal.secretsFile.'')
    (mkRemovedOptionModule [ "services" "nixseal" "nixopsKeys" ] ''
      <name>-key.service units are always made: they carry the ordering towards each secret's consumers.'')
  ];

  options.services.nixseal = {
    enable = mkEnableOption "nixseal, which restores age-encrypted secrets into never-swapped memory at boot";

    package = mkOption {
      type = types.package;
      default = pkgs.nixseal or (pkgs.callPackage ./package.nix { });
      defaultText = literalExpression "pkgs.nixseal or (pkgs.callPackage ./package.nix { })";
      example = literalExpression "inputs.nixseal.packages.\${pkgs.stdenv.hostPlatform.system}.default";
      description = "The nixseal package that provides `nixseal-agent`.";
    };

    secretsFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = literalExpression "./nixseal-secrets.json";
      description = ''
        The file `nixseal` generates into this host's config dir
        (`hosts/<name>/nixseal-secrets.json`) from the operator's repository.
        Every secret's owner, group, mode, path, units and consumers come from it.
      '';
    };

    identityPaths = mkOption {
      type = types.listOf types.str;
      default = lib.optionals config.services.openssh.enable (map (k: k.path)
        (filter (k: k.type == "ed25519" || k.type == "rsa") config.services.openssh.hostKeys));
      defaultText = literalExpression
        ''lib.optionals config.services.openssh.enable (map (k: k.path) (filter (k: k.type == "ed25519" || k.type == "rsa") config.services.openssh.hostKeys))'';
      example = [ "/etc/ssh/ssh_host_ed25519_key" ];
      description = "SSH private keys the agent decrypts with; the host's ed25519 and rsa host keys by default.";
    };

    # The paths are fixed by units.json (mount point, ReadWritePaths,
    # StateDirectory), which plain systemd hosts use as they are; moving them
    # here alone would make the NixOS units drift from those. Read-only.
    stateDir = mkOption {
      type = types.str;
      default = paths.stateDir;
      readOnly = true;
      description = "Where encrypted generations live on disk (`<stateDir>/generations/<id>`). Fixed by units.json.";
    };

    runDir = mkOption {
      type = types.str;
      default = paths.runDir;
      readOnly = true;
      description = "The memory filesystem for plaintext generations (`<runDir>/<id>/<name>`, `<runDir>/current`). Fixed by units.json.";
    };

    keysDir = mkOption {
      type = types.str;
      default = paths.keysDir;
      readOnly = true;
      description = "NixOps' key directory; the agent keeps one link per secret name in it (`<keysDir>/<name>`). Fixed by units.json.";
    };

    keepGenerations = mkOption {
      type = types.ints.between 1 1000;
      default = 5;
      example = 10;
      description = "How many generations (current included) the agent keeps on disk.";
    };

    fsType = mkOption {
      type = types.enum [ "tmpfs" "ramfs" ];
      default = if kernelHasNoswap then "tmpfs" else "ramfs";
      defaultText = literalExpression ''if lib.versionAtLeast config.boot.kernelPackages.kernel.version "6.4" then "tmpfs" else "ramfs"'';
      example = "ramfs";
      description = ''
        Filesystem of `runDir`: `tmpfs` mounted with `noswap` (Linux 6.4 and
        later) or `ramfs` (never swapped either, but without a size limit).
        The mount options are those of units.json's `mount` section.
      '';
    };

    keyTimeout = mkOption {
      type = types.ints.between 1 3600;
      default = 30;
      example = 90;
      description = ''
        Seconds a `<name>-key.service` waits for its secret after the boot
        restore (or a switch) before it fails, with a journal message naming the
        secret and what to run. The units that need the secret then fail to
        start; boot and `nixos-rebuild switch` go on.
      '';
    };

    server = {
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://secrets.example.org";
        description = ''
          A nixseal server to pull this host's bundles from (`nixseal push` uploads
          them there). Unset (the default): no pull units; bundles arrive with
          `nixseal deploy`. Set: `nixseal-pull.timer` pulls every 10 minutes, or,
          with `follow`, `nixseal-follow.service` installs each bundle as it is pushed.
        '';
      };

      follow = mkOption {
        type = types.bool;
        default = false;
        example = true;
        description = ''
          Keep a long-poll open to the server (`nixseal-agent pull --follow`,
          `nixseal-follow.service`): a rotation arrives within seconds of its push.
          Off: a pull from a timer, nothing resident between pulls.
        '';
      };

      trustKeys = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx2k0hQ6Hd5pgy5sm0AXp0bUXWqExQpDYmxCw4rT+8k alice" ];
        description = ''
          The operators' signing keys (public key lines, the `.pub` of
          `nixseal push --sign-key`): the agent installs only bundles signed by one of them.
        '';
      };

      trustServer = mkOption {
        type = types.bool;
        default = false;
        example = true;
        description = ''
          Install unsigned bundles (`--trust-server`): the server, and anyone
          between it and this host, then decides what this host installs. Use
          `trustKeys` instead.
        '';
      };
    };

    secretPaths = mkOption {
      type = types.attrsOf types.str;
      readOnly = true;
      default = mapAttrs (n: s: if s.neededForUsers then "${forUsersDir}/${n}" else "${cfg.keysDir}/${n}") secrets;
      defaultText = lib.literalMD "each secret and rendered template of `secretsFile` by name: `<keysDir>/<name>`, or `<runDir>/for-users/<name>` when it is `neededForUsers`";
      description = ''
        Where each secret (and each file rendered from a template) of `secretsFile`
        appears, by name, e.g.
        `users.users.alice.hashedPasswordFile = config.services.nixseal.secretPaths.alice-password;`
        or `systemd.services.app.serviceConfig.EnvironmentFile = config.services.nixseal.secretPaths."app.env";`.
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = cfg.secretsFile != null;
          message = "services.nixseal.secretsFile is not set: set it to the file nixseal generates for this host, e.g. services.nixseal.secretsFile = ./nixseal-secrets.json; (run \"nixseal host sync NAME\" in the operator's repository to write hosts/NAME/nixseal-secrets.json)";
        }
        {
          assertion = cfg.secretsFile == null || fileOk;
          message = "services.nixseal.secretsFile ${toString cfg.secretsFile} has format ${builtins.toJSON fileFormat}; this module reads ${hostSecretsFormat}: regenerate it with the nixseal that matches this module (nixseal host sync NAME)";
        }
        {
          assertion = !fileOk || sharedNames != [ ] || file.digest == digestOf secrets;
          message = "services.nixseal.secretsFile ${toString cfg.secretsFile} was changed by hand (its digest does not match its secrets): regenerate it from the repository with \"nixseal host sync ${hostName}\"";
        }
        {
          assertion = sharedNames == [ ];
          message = "services.nixseal.secretsFile ${toString cfg.secretsFile}: ${concatStringsSep ", " sharedNames} is both a secret and a template; names are shared (one file in ${cfg.keysDir}): regenerate it with \"nixseal host sync ${hostName}\"";
        }
        {
          assertion = badNames == [ ] && caseTwins == [ ];
          message = "services.nixseal.secretsFile: ${concatStringsSep ", " (badNames ++ caseTwins)}: ${nameRule.message}, and no two names may differ only in case; rename with \"nixseal secrets rename OLD NEW\"";
        }
        {
          assertion = builtins.elem "nixseal-secrets.target" units.names;
          message = "nixseal: host-agent/systemd/units.json defines no nixseal-secrets.target, which the key units order on";
        }
        {
          assertion = cfg.fsType != "tmpfs" || kernelHasNoswap;
          message = "services.nixseal.fsType = \"tmpfs\" needs Linux ${unitsJson.mount.noswapMinKernel} or later for noswap; use \"ramfs\" or a newer boot.kernelPackages";
        }
        {
          assertion = cfg.identityPaths != [ ];
          message = "services.nixseal.identityPaths is empty (services.openssh is ${if config.services.openssh.enable then "enabled with no ed25519 or rsa host key" else "disabled"}): set it to the SSH private keys the host's secrets are encrypted to, or enable services.openssh with an ed25519 or rsa host key";
        }
      ] ++ map (n: {
        assertion = builtins.elem forUsers.${n}.owner [ "root" "0" ] && builtins.elem forUsers.${n}.group [ "root" "0" null ];
        message = "services.nixseal.secretsFile: secret ${n} is neededForUsers, so it must be owned by root:root (it is restored before any other user exists)";
      }) (attrNames forUsers)
      ++ map (n: {
        assertion = !templates.${n}.neededForUsers;
        message = "services.nixseal.secretsFile: template ${n} is neededForUsers, but templates are rendered after the secrets, never before users exist";
      }) (attrNames templates);

      warnings =
        concatMap (n:
          let s = secrets.${n}; in
          optional (!declaredUser s.owner)
            "services.nixseal: ${kind n} ${n} is owned by user ${s.owner}, which users.users does not declare; the agent skips this ${kind n} at boot unless the user exists"
          ++ optional (s.group != null && !declaredGroup s.group)
            "services.nixseal: ${kind n} ${n} has group ${s.group}, which users.groups does not declare; the agent skips this ${kind n} at boot unless the group exists")
          (attrNames secrets)
        ++ optional (volatile cfg.stateDir) (volatileWarning "the state dir" cfg.stateDir)
        ++ map (volatileWarning "the identity") (filter volatile cfg.identityPaths);

      environment.systemPackages = [ cfg.package ];

      environment.etc."nixseal/agent.json" = { source = agentConfigFile; mode = "0644"; };
      # What this system is built for: the agent refuses to activate a bundle
      # that disagrees with it (names and digest), and reports drift at boot.
      environment.etc."nixseal/secrets.json" = mkIf (cfg.secretsFile != null) { source = cfg.secretsFile; mode = "0644"; };

      # ReadWritePaths= that do not exist fail the unit's namespace setup, and
      # with it every secret: make sure each directory is there (an existing
      # one is left as it is; a service's StateDirectory= still owns its own).
      systemd.tmpfiles.rules = tmpfilesRules ++ map (d: "d ${d} - - - -") readWritePaths;
      # The restore runs before systemd-tmpfiles-setup.service: at boot the directories
      # must already be there, as the activation script (stage 2, before systemd) makes them.
      system.activationScripts.nixsealPaths = mkIf (readWritePaths != [ ]) (lib.stringAfter [ "specialfs" ] ''
        ${pkgs.coreutils}/bin/mkdir -p ${lib.escapeShellArgs readWritePaths}
      '');

      # The agent's own units, exactly as units.json has them.
      systemd.services = mapAttrs' (n: v: nameValuePair n (v // {
        # A new agent.json or secrets file must reach a running agent.
        restartTriggers = [ agentConfigFile ] ++ optional (cfg.secretsFile != null) config.environment.etc."nixseal/secrets.json".source;
      })) units.services;
      # The API socket starts nixseal-agent.service on demand (it exits when idle).
      systemd.sockets = units.sockets;
      systemd.targets = units.targets;
      systemd.mounts = units.mounts;
    }

    {
      # <name>-key.service (NixOps' names): active once <keysDir>/<name> exists,
      # failed after keyTimeout seconds when it does not. No default
      # dependencies, so a .socket, .path or .timer consumer can order after it
      # without a cycle; the consumer wiring lives here (requiredBy, before),
      # never in the consumer's own unit.
      systemd.services = mapAttrs' (name: s: nameValuePair "${name}-key" {
        description = "nixseal ${if kind name == "template" then "rendered template" else "key"} ${name} (${cfg.keysDir}/${name})";
        wants = [ "nixseal-secrets.target" ];
        after = [ "nixseal-secrets.target" ];
        before = [ "keys.target" "shutdown.target" ] ++ s.neededBy;
        conflicts = [ "shutdown.target" ];
        requiredBy = s.neededBy;
        wantedBy = [ "keys.target" "multi-user.target" ];
        # A switch must not restart it (that would restart every consumer).
        restartIfChanged = false;
        unitConfig.DefaultDependencies = false;
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${cfg.package}/libexec/nixseal/wait-key ${lib.escapeShellArgs ([ name "${cfg.keysDir}/${name}" (toString cfg.keyTimeout) hostName ] ++ optional (kind name == "template") "template")}";
          TimeoutStartSec = "${toString (cfg.keyTimeout + 15)}s";
        };
      }) regular;

      # NixOS defines keys.target ("Security Keys"); NixOps services order on it.
      systemd.targets.keys = {
        wants = [ "nixseal-secrets.target" ];
        after = [ "nixseal-secrets.target" ] ++ map keyUnit (attrNames regular);
      };
    }

    (mkIf pullOn {
      assertions = [
        {
          assertion = (pull.trustKeys != [ ]) != pull.trustServer;
          message = if pull.trustServer
            then "services.nixseal.server: trustKeys and trustServer exclude each other: keep trustKeys (bundles signed by those keys only)"
            else "services.nixseal.server.url is set but not whom to trust: set services.nixseal.server.trustKeys to the operators' signing keys (the .pub of nixseal push --sign-key), or trustServer = true to install unsigned bundles";
        }
        {
          assertion = builtins.match "https?://[^/?#@[:space:]]+(/[^?#[:space:]]*)?" pull.url != null;
          message = "services.nixseal.server.url = ${builtins.toJSON pull.url}: give an http:// or https:// URL without credentials, spaces, query or fragment, e.g. \"https://secrets.example.org\"";
        }
      ] ++ map (k: {
        assertion = builtins.match trustKeyPattern k != null;
        message = "services.nixseal.server.trustKeys: ${builtins.toJSON k} is not an ssh-ed25519 or ssh-rsa public key line (\"ssh-ed25519 AAAA... comment\", as in the signing key's .pub file)";
      }) pull.trustKeys;

      # units.json's pull units for the chosen mode, hardened like the agent's with network allowed.
      systemd.services = mapAttrs' (n: v: nameValuePair n (v // { restartTriggers = [ agentConfigFile ]; })) pullUnits.services;
      systemd.timers = pullUnits.timers;
    })

    (mkIf (forUsers != { } && useSystemdUsers) {
      systemd.services = mapAttrs' (n: v: nameValuePair n (v // { restartTriggers = [ agentConfigFile ]; }))
        forUsersUnits.services;
    })

    # Users made by the activation script (update-users-groups.pl): the secrets
    # they need are restored by a snippet that runs before it, at boot and at
    # every switch. Before /etc is linked, so the config is read from the store.
    (mkIf (forUsers != { } && !useSystemdUsers) {
      system.activationScripts.nixsealForUsers = lib.stringAfter [ "specialfs" ] ''
        if ! ${pkgs.util-linux}/bin/mountpoint -q ${cfg.runDir}; then
          mkdir -p ${cfg.runDir}
          ${pkgs.util-linux}/bin/mount -t ${placeholders."@fsType@"} -o ${placeholders."@fsOptions@"} nixseal ${cfg.runDir}
        fi
        ${agent} restore --for-users --config ${agentConfigFile} \
          || echo "nixseal: the secrets for users were not restored (see above); users keep the passwords they had" >&2
      '';
      system.activationScripts.users.deps = [ "nixsealForUsers" ];
    })
  ]);
}

# NixOS module: services.nixseal.
#
# It only turns options into configuration; the agent owns the logic (the
# sops-nix way). The agent's units come from host-agent/systemd/units.json, the
# same file `nixseal-agent install` renders for plain systemd hosts, so the two
# cannot drift: nix/units.nix maps it onto systemd.services/targets/mounts.
{ config, lib, pkgs, ... }:

let
  inherit (lib)
    concatMap filter literalExpression mapAttrs' mapAttrsToList mkEnableOption
    mkIf mkMerge mkOption nameValuePair optional types unique;

  cfg = config.services.nixseal;

  unitsJson = builtins.fromJSON (builtins.readFile ../host-agent/systemd/units.json);
  paths = unitsJson.paths;
  configFile = paths.config;

  # What the agent reads at start: host-agent/config.ts's schema (strict: no
  # other keys), with the same paths units.json's units were written for.
  agentConfig = {
    inherit (cfg) identityPaths stateDir runDir keysDir keepGenerations readWritePaths;
    inherit (paths) socket;
  };

  units = import ./units.nix {
    units = unitsJson;
    placeholders = {
      "@agent@" = "${cfg.package}/bin/nixseal-agent";
      "@config@" = configFile;
      "@fsType@" = unitsJson.mount.${cfg.fsType}.fsType;
      "@fsOptions@" = unitsJson.mount.${cfg.fsType}.fsOptions;
      "@readWritePaths@" = cfg.readWritePaths;
    };
  };

  # units.json links /run/keys to the current generation on plain hosts. NixOS
  # mounts its own ramfs there (NixOps' keys, group "keys"); the agent then
  # makes per-name links inside it, so that rule is left out here.
  tmpfilesRules = filter (r: builtins.match "[^ ]+ +${cfg.keysDir} .*" r == null) units.tmpfiles;

  kernelHasNoswap = lib.versionAtLeast config.boot.kernelPackages.kernel.version unitsJson.mount.noswapMinKernel;

  # NixOps names: <name>-key.service, active while <keysDir>/<name> exists.
  keyService = name: "${name}-key.service";

  neededBy = import ./needed-by.nix { inherit (cfg) secrets nixopsKeys; };

  # The same shapes as core/schema/names.ts, so a bad declaration fails at
  # evaluation instead of at deploy (test/nix/names.test.ts keeps them equal).
  principal = types.strMatching "([a-z_][a-z0-9_-]{0,31}[$]?|[0-9]{1,10})";
  unitName = types.strMatching "[-A-Za-z0-9:_.@\\\\]+[.](service|socket|target|timer|path|mount)";
  secretName = "[A-Za-z0-9_][-A-Za-z0-9._@+]{0,127}";

  secretOptions = { name, ... }: {
    options = {
      owner = mkOption {
        type = principal;
        default = "root";
        example = "caddy";
        description = "User that owns the plaintext file (a name or a numeric id).";
      };
      group = mkOption {
        type = principal;
        default = "root";
        example = "keys";
        description = "Group of the plaintext file (a name or a numeric id).";
      };
      mode = mkOption {
        type = types.strMatching "0?[0-7]{3}";
        default = "0400";
        example = "0440";
        description = "Octal file mode of the plaintext file.";
      };
      path = mkOption {
        type = types.nullOr (types.strMatching "/.*");
        default = null;
        example = "/var/lib/caddy/tls.key";
        description = ''
          Extra absolute path where a link to the secret appears. The secret is
          always reachable as `<keysDir>/<name>` and `<runDir>/current/<name>`.
        '';
      };
      restartUnits = mkOption {
        type = types.listOf unitName;
        default = [ ];
        example = [ "caddy.service" ];
        description = "Units the agent restarts after this secret's bytes, owner, group or mode change.";
      };
      reloadUnits = mkOption {
        type = types.listOf unitName;
        default = [ ];
        example = [ "caddy.service" ];
        description = "Units the agent reloads (instead of restarting) after this secret changes.";
      };
      neededBy = mkOption {
        type = types.listOf (types.strMatching "[-A-Za-z0-9:_.@\\\\]+[.](service|socket|target|timer|path)");
        default = [ ];
        example = [ "caddy.service" "podman-app.service" ];
        description = ''
          Units that must not start before this secret is in place. Each gets
          `Requires=` and `After=` on `nixseal-secrets.target` and, with
          `nixopsKeys`, `Wants=` and `After=` on `<name>-key.service`.
        '';
      };
    };
  };
in
{
  options.services.nixseal = {
    enable = mkEnableOption "nixseal, which restores age-encrypted secrets into never-swapped memory at boot";

    package = mkOption {
      type = types.package;
      default = pkgs.nixseal or (pkgs.callPackage ./package.nix { });
      defaultText = literalExpression "pkgs.nixseal or (pkgs.callPackage ./package.nix { })";
      example = literalExpression "inputs.nixseal.packages.\${pkgs.stdenv.hostPlatform.system}.default";
      description = "The nixseal package that provides `nixseal-agent`.";
    };

    identityPaths = mkOption {
      type = types.listOf types.str;
      default = map (k: k.path)
        (filter (k: k.type == "ed25519" || k.type == "rsa") config.services.openssh.hostKeys);
      defaultText = literalExpression
        ''map (k: k.path) (filter (k: k.type == "ed25519" || k.type == "rsa") config.services.openssh.hostKeys)'';
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

    readWritePaths = mkOption {
      type = types.listOf (types.strMatching "/[^[:space:]]*");
      default = unique (map (s: dirOf s.path) (filter (s: s.path != null) (builtins.attrValues cfg.secrets)));
      defaultText = lib.literalMD "the directories of the declared secrets' `path`";
      example = [ "/var/lib/caddy" ];
      description = ''
        Extra directories the sandboxed agent may write, for secrets with a
        `path` (the agent links the secret there). Secrets declared here add
        their directories; add the directories of `path`s that only the
        operator's repository names. Each is created at boot if missing.
      '';
    };

    nixopsKeys = mkOption {
      type = types.bool;
      default = true;
      example = false;
      description = ''
        Create NixOps-compatible `<name>-key.service` units for the declared
        secrets (active while `<keysDir>/<name>` exists) and make `keys.target`
        wait for nixseal, so services written for NixOps keys work unchanged.
      '';
    };

    secrets = mkOption {
      type = types.attrsOf (types.submodule secretOptions);
      default = { };
      example = literalExpression ''
        {
          caddy-tls = { owner = "caddy"; mode = "0400"; reloadUnits = [ "caddy.service" ]; neededBy = [ "caddy.service" ]; };
          app-env = { neededBy = [ "podman-app.service" ]; restartUnits = [ "podman-app.service" ]; };
        }
      '';
      description = ''
        Secrets this host expects, by name. The values and the metadata the
        agent applies (owner, group, mode, path, units) come from the
        operator's repository through `nixseal deploy`; keep them equal to
        what is declared here. A declaration wires the units that need the
        secret (`neededBy`, `<name>-key.service`), adds its `path`'s directory
        to `readWritePaths`, and is checked at evaluation (names, modes,
        owners that no module declares).
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = builtins.elem "nixseal-secrets.target" units.names;
          message = "nixseal: host-agent/systemd/units.json defines no nixseal-secrets.target, which neededBy and keys.target order on";
        }
        {
          assertion = cfg.fsType != "tmpfs" || kernelHasNoswap;
          message = "services.nixseal.fsType = \"tmpfs\" needs Linux ${unitsJson.mount.noswapMinKernel} or later for noswap; use \"ramfs\" or a newer boot.kernelPackages";
        }
        {
          assertion = cfg.identityPaths != [ ];
          message = "services.nixseal.identityPaths is empty: set it, or keep an ed25519 or rsa key in services.openssh.hostKeys";
        }
      ] ++ mapAttrsToList (name: _: {
        assertion = builtins.match secretName name != null
          && builtins.match ".*\\.\\..*" name == null;
        message = "services.nixseal.secrets.\"${name}\": a secret name is 1-128 characters of letters, digits and . _ @ + -, not starting with a dot";
      }) cfg.secrets;

      warnings = concatMap (name:
        let s = cfg.secrets.${name}; numeric = v: builtins.match "[0-9]+" v != null;
        in optional (!numeric s.owner && !(config.users.users ? ${s.owner}))
             "services.nixseal.secrets.${name}.owner: user ${s.owner} is not declared in users.users; the agent will skip this secret if it does not exist at boot"
          ++ optional (!numeric s.group && !(config.users.groups ? ${s.group}))
             "services.nixseal.secrets.${name}.group: group ${s.group} is not declared in users.groups; the agent will skip this secret if it does not exist at boot")
        (builtins.attrNames cfg.secrets);

      environment.systemPackages = [ cfg.package ];

      environment.etc."nixseal/agent.json" = {
        text = builtins.toJSON agentConfig;
        mode = "0644";
      };

      # ReadWritePaths= that do not exist fail the unit's namespace setup, and
      # with it every secret: make sure each directory is there (an existing
      # one is left as it is; a service's StateDirectory= still owns its own).
      systemd.tmpfiles.rules = tmpfilesRules ++ map (d: "d ${d} - - - -") cfg.readWritePaths;

      # The agent's own units, exactly as units.json has them.
      systemd.services = mapAttrs' (n: v: nameValuePair n (v // {
        # A new agent.json must reach a running agent.
        restartTriggers = [ config.environment.etc."nixseal/agent.json".source ];
      })) units.services;
      # The API socket starts nixseal-agent.service on demand (it exits when idle).
      systemd.sockets = units.sockets;
      systemd.targets = units.targets;
      systemd.mounts = units.mounts;
    }

    (mkIf cfg.nixopsKeys {
      # NixOS defines keys.target ("Security Keys"); NixOps services order on it.
      systemd.targets.keys = {
        wants = [ "nixseal-secrets.target" ] ++ map keyService (builtins.attrNames cfg.secrets);
        after = [ "nixseal-secrets.target" ];
      };

      systemd.services = mapAttrs' (name: _: nameValuePair "${name}-key"
        (import ./key-service.nix { inherit name; inherit (cfg) keysDir; } // {
          wants = [ "nixseal-secrets.target" ];
          after = [ "nixseal-secrets.target" ];
          path = [ pkgs.inotify-tools ];
        })) cfg.secrets;
    })

    {
      systemd.services = neededBy.services;
      systemd.sockets = neededBy.sockets;
      systemd.targets = neededBy.targets;
      systemd.timers = neededBy.timers;
      systemd.paths = neededBy.paths;
    }
  ]);
}

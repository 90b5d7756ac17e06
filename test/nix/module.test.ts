// nix/module.nix over a matrix of NixOS configurations, evaluated with the real
// nixpkgs lib and stub NixOS declarations (test/nix/nixos-eval; NIXPKGS=<checkout>
// for real NixOS), each with the generated file the CLI would write. Every case
// checks unit texts, assertions and warnings; every configuration that evaluates
// has its units checked by real systemd (systemd-analyze verify: no cycle, no error).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type HostSecret, type HostTemplate } from "../../core/index.js";
import { agentConfigSchema } from "../../host-agent/config/schema.js";
import { evaluate, forVerify, removeEvalStore, scratch, secret, template, verifyUnitDir, words, writeSecretsFile, writeUnitDir, type Evaluated } from "./module-eval.js";

const tmp = scratch("module-eval");
afterAll(() => {
  tmp.remove();
  removeEvalStore();
});

const unitsJson = JSON.parse(readFileSync(new URL("../../host-agent/systemd/units.json", import.meta.url), "utf8"));
const AGENT_UNITS = Object.keys(unitsJson.units as Record<string, unknown>);

/** Every configuration that evaluated, for the systemd check at the end. */
const evaluated = new Map<string, Evaluated>();

/** Evaluates test/nix/configs/<config>.nix with a generated file for `secrets` and `templates` (host web1). */
function run(config: string, secrets: Record<string, HostSecret> = {}, label = config, templates: Record<string, HostTemplate> = {}): Evaluated {
  return evaluate(config, writeSecretsFile(dirFor(label), "web1", secrets, templates));
}

/** A fresh dir per case under the test's scratch dir. */
function dirFor(label: string): string {
  const dir = join(tmp.dir, label);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** run() that must raise no assertion; remembered for systemd-analyze verify. */
function ok(config: string, secrets: Record<string, HostSecret> = {}, label = config, templates: Record<string, HostTemplate> = {}): Evaluated {
  const e = run(config, secrets, label, templates);
  expect(e.failedAssertions).toEqual([]);
  evaluated.set(label, e);
  return e;
}

const unit = (e: Evaluated, name: string): string => {
  expect(Object.keys(e.units), `no unit ${name}`).toContain(name);
  return e.units[name]!.text;
};
/** The one line of a unit text that sets key (e.g. ExecStart), as written. */
const sectionLine = (text: string, key: string): string | undefined => text.split("\n").find((l) => l.startsWith(`${key}=`));
const ours = (e: Evaluated) => e.warnings.filter((w) => w.includes("nixseal"));
const agentJson = (e: Evaluated) => agentConfigSchema.parse(JSON.parse(e.etc["nixseal/agent.json"]!.text!));

const MANY: Record<string, HostSecret> = {
  "caddy-tls": secret({ owner: "caddy", group: "caddy", path: "/var/lib/caddy/tls.key", reloadUnits: ["caddy.service"], neededBy: ["caddy.service"] }),
  "app-env": secret({ restartUnits: ["podman-app.service"], neededBy: ["podman-app.service"] }),
  "db-password": secret({ owner: "postgres", group: "postgres", mode: "0440", path: "/etc/postgresql/password", restartUnits: ["postgresql.service"], neededBy: ["postgresql.service", "caddy.service"] }),
  "worker-token": secret({ owner: "ghost", group: "ghosts" }),
};

describe("nix/module.nix evaluation matrix", () => {
  it("minimal: the agent's units from units.json, early restore, no key unit", () => {
    const e = ok("minimal");
    for (const n of AGENT_UNITS) unit(e, n);
    expect(Object.keys(e.units).filter((n) => n.endsWith("-key.service"))).toEqual([]);
    expect(ours(e)).toEqual([]);
    const restore = unit(e, "nixseal-restore.service");
    expect(words(restore, "Unit", "DefaultDependencies")).toEqual(["no"]);
    expect(words(restore, "Unit", "Before")).toEqual(expect.arrayContaining(["sysinit.target", "nixseal-secrets.target", "network-pre.target"]));
    expect(words(restore, "Unit", "After")).not.toContain("local-fs.target");
    expect(words(restore, "Unit", "RequiresMountsFor").sort()).toEqual(["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key", "/var/lib/nixseal"]);
    expect(words(restore, "Service", "ExecStart")).toEqual([e.agentPath, "restore", "--config", "/etc/nixseal/agent.json"]);
    expect(words(restore, "Service", "PrivateTmp")).toEqual([]); // it would order the unit after local-fs.target
    expect(e.units["nixseal-restore.service"]!.wantedBy).toEqual(["sysinit.target"]);
    const target = unit(e, "nixseal-secrets.target");
    expect(words(target, "Unit", "DefaultDependencies")).toEqual(["no"]);
    expect(words(target, "Unit", "Before")).toEqual(["sysinit.target"]);
    // What the system is built for travels with it, for the agent's drift check.
    // (a path: NixOS copies it into the store; the stub prints it as given)
    expect(e.etc["nixseal/secrets.json"]!.source).toMatch(/^\/nix\/store\/[a-z0-9]{32}-|web1-nixseal-secrets\.json$/);
    const cfg = agentJson(e);
    expect(cfg).toMatchObject({ systemSecrets: "/etc/nixseal/secrets.json", forUsersDir: "/run/nixseal/for-users", readWritePaths: [], keepGenerations: 5 });
    expect(cfg.identityPaths.sort()).toEqual(["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]);
    expect(e.tmpfiles.filter((r) => r.startsWith("L") && r.includes("/run/keys"))).toEqual([]);
  });

  it("many secrets: owners, modes, paths and units come from the generated file", () => {
    const e = ok("many-secrets", MANY);
    const restore = unit(e, "nixseal-restore.service");
    expect(words(restore, "Service", "ReadWritePaths")).toEqual(expect.arrayContaining(["-/var/lib/caddy", "-/etc/postgresql"]));
    // Made by the activation script, before systemd starts the restore (tmpfiles runs later).
    const mkdir = /#### Activation script snippet nixsealPaths:\n_localstatus=0\n\/nix\/store\/[a-z0-9]{32}-coreutils\/bin\/mkdir -p (.*)\n/.exec(e.activation);
    expect(mkdir?.[1]?.split(" ").sort()).toEqual(["/etc/postgresql", "/var/lib/caddy"]);
    expect(e.tmpfiles).toEqual(expect.arrayContaining(["d /var/lib/caddy - - - -", "d /etc/postgresql - - - -"]));
    expect(agentJson(e).readWritePaths.sort()).toEqual(["/etc/postgresql", "/var/lib/caddy"]);
    // Each consumer gets the key unit through nixseal's own unit: requiredBy + before.
    const key = unit(e, "db-password-key.service");
    expect(e.units["db-password-key.service"]!.requiredBy.sort()).toEqual(["caddy.service", "postgresql.service"]);
    expect(words(key, "Unit", "Before")).toEqual(expect.arrayContaining(["postgresql.service", "caddy.service", "keys.target"]));
    expect(words(key, "Unit", "DefaultDependencies")).toEqual(["false"]);
    expect(words(key, "Service", "Type")).toEqual(["oneshot"]);
    expect(words(key, "Service", "ExecStart")).toEqual([`${e.packagePath}/libexec/nixseal/wait-key`, "db-password", "/run/keys/db-password", "30", "web1"]);
    expect(words(key, "Service", "TimeoutStartSec")).toEqual(["45s"]);
    expect(words(key, "Service", "Restart")).toEqual([]);
    // The consumers' own units are not touched.
    for (const c of ["caddy.service", "postgresql.service", "podman-app.service"]) {
      expect(unit(e, c)).not.toMatch(/key\.service|nixseal/);
    }
    expect(words(unit(e, "legacy-worker.service"), "Unit", "After")).toEqual(["keys.target", "worker-token-key.service"]);
    expect(words(unit(e, "keys.target"), "Unit", "After")).toEqual(expect.arrayContaining(["nixseal-secrets.target", "worker-token-key.service", "caddy-tls-key.service"]));
    expect(ours(e)).toEqual([
      "services.nixseal: secret worker-token is owned by user ghost, which users.users does not declare; the agent skips this secret at boot unless the user exists",
      "services.nixseal: secret worker-token has group ghosts, which users.groups does not declare; the agent skips this secret at boot unless the group exists",
    ]);
    expect(e.secretPaths).toEqual({ "app-env": "/run/keys/app-env", "caddy-tls": "/run/keys/caddy-tls", "db-password": "/run/keys/db-password", "worker-token": "/run/keys/worker-token" });
  });

  it("templates: each rendered file gets a key unit like a secret, before the units that need it; services use its path", () => {
    const e = ok(
      "templates",
      { "acme-email": secret({ neededBy: ["caddy.service"] }), "dns-token": secret() },
      "templates",
      {
        "app.env": template({ restartUnits: ["app.service"], neededBy: ["app.service"] }),
        Caddyfile: template({ owner: "caddy", group: "caddy", mode: "0440", path: "/etc/caddy/Caddyfile", reloadUnits: ["caddy.service"], neededBy: ["caddy.service"] }),
        "worker.conf": template({ owner: "ghost", group: "ghost" }),
      },
    );
    const env = unit(e, "app.env-key.service");
    expect(e.units["app.env-key.service"]!.requiredBy).toEqual(["app.service"]);
    expect(words(env, "Unit", "Before")).toEqual(expect.arrayContaining(["app.service", "keys.target"]));
    expect(words(env, "Unit", "DefaultDependencies")).toEqual(["false"]);
    expect(words(env, "Unit", "Description")).toContain("template");
    expect(words(env, "Service", "ExecStart")).toEqual([`${e.packagePath}/libexec/nixseal/wait-key`, "app.env", "/run/keys/app.env", "30", "web1", "template"]);
    expect(e.units["Caddyfile-key.service"]!.requiredBy).toEqual(["caddy.service"]);
    expect(e.units["acme-email-key.service"]!.requiredBy).toEqual(["caddy.service"]);
    expect(words(unit(e, "acme-email-key.service"), "Service", "ExecStart")).not.toContain("template");
    expect(words(unit(e, "keys.target"), "Unit", "After")).toEqual(expect.arrayContaining(["app.env-key.service", "Caddyfile-key.service", "worker.conf-key.service", "dns-token-key.service"]));
    // A service's config takes the rendered file's path from the module.
    expect(words(unit(e, "app.service"), "Service", "EnvironmentFile")).toEqual(["/run/keys/app.env"]);
    expect(unit(e, "app.service")).not.toContain("key.service");
    expect(e.secretPaths).toEqual({ "acme-email": "/run/keys/acme-email", "dns-token": "/run/keys/dns-token", "app.env": "/run/keys/app.env", Caddyfile: "/run/keys/Caddyfile", "worker.conf": "/run/keys/worker.conf" });
    // Its --path: the restore may write there, and the directory is made before it runs.
    expect(words(unit(e, "nixseal-restore.service"), "Service", "ReadWritePaths")).toContain("-/etc/caddy");
    expect(agentJson(e).readWritePaths).toEqual(["/etc/caddy"]);
    expect(e.activation).toContain("mkdir -p /etc/caddy");
    expect(ours(e)).toEqual([
      "services.nixseal: template worker.conf is owned by user ghost, which users.users does not declare; the agent skips this template at boot unless the user exists",
      "services.nixseal: template worker.conf has group ghost, which users.groups does not declare; the agent skips this template at boot unless the group exists",
    ]);
  });

  it("a .socket, a .path and a .timer consumer: ordered after their key, no cycle (checked by systemd below)", () => {
    const e = ok("consumers", {
      "api-token": secret({ neededBy: ["api.socket", "api.service"] }),
      "watch-key": secret({ neededBy: ["watch.path"] }),
      "rotate-key": secret({ neededBy: ["rotate.timer"] }),
    });
    for (const [key, consumers] of [["api-token", ["api.socket", "api.service"]], ["watch-key", ["watch.path"]], ["rotate-key", ["rotate.timer"]]] as const) {
      expect(e.units[`${key}-key.service`]!.requiredBy.sort()).toEqual([...consumers].sort());
      expect(words(unit(e, `${key}-key.service`), "Unit", "Before")).toEqual(expect.arrayContaining([...consumers]));
      // Nothing that starts after sysinit.target: a socket/path/timer is before basic.target.
      expect(words(unit(e, `${key}-key.service`), "Unit", "After")).toEqual(["nixseal-secrets.target"]);
    }
    expect(unit(e, "api.socket")).not.toContain("key.service");
  });

  it("a consumer no module defines gets no unit of its own, only the key unit's requires link", () => {
    const e = ok("minimal", { "vendor-token": secret({ neededBy: ["vendor-daemon.service"] }) }, "undefined-consumer");
    expect(Object.keys(e.units)).not.toContain("vendor-daemon.service");
    expect(e.units["vendor-token-key.service"]!.requiredBy).toEqual(["vendor-daemon.service"]);
  });

  it("a name with each allowed special character (. _ -, upper case) makes valid unit and file names", () => {
    const names = ["tls.key", "_lead", "a_b", "a-b", "Mixed.Case_1-x"];
    const e = ok("minimal", Object.fromEntries(names.map((n) => [n, secret({ neededBy: ["app.service"] })])), "special-names");
    for (const n of names) {
      expect(words(unit(e, `${n}-key.service`), "Service", "ExecStart")).toContain(`/run/keys/${n}`);
      expect(e.secretPaths[n]).toBe(`/run/keys/${n}`);
    }
  });

  it("neededForUsers with systemd-sysusers: restored by its own unit before sysusers, root-only path for hashedPasswordFile", () => {
    const e = ok("sysusers", { "operator-password": secret({ neededForUsers: true }), other: secret({ neededBy: ["app.service"] }) });
    const u = unit(e, "nixseal-restore-for-users.service");
    expect(words(u, "Unit", "Before")).toEqual(expect.arrayContaining(["systemd-sysusers.service", "userborn.service", "nixseal-restore.service", "sysinit.target"]));
    expect(words(u, "Unit", "DefaultDependencies")).toEqual(["no"]);
    expect(words(u, "Unit", "RequiresMountsFor")).toEqual(expect.arrayContaining(["/var/lib/nixseal", "/etc/ssh/ssh_host_ed25519_key"]));
    expect(words(u, "Service", "ExecStart")).toEqual([e.agentPath, "restore", "--for-users", "--config", "/etc/nixseal/agent.json"]);
    expect(words(u, "Service", "ProtectSystem")).toEqual(["strict"]); // units.json's hardening
    expect(e.units["nixseal-restore-for-users.service"]!.wantedBy.sort()).toEqual(["sysinit.target", "systemd-sysusers.service", "userborn.service"]);
    expect(e.users.operator!.hashedPasswordFile).toBe("/run/nixseal/for-users/operator-password");
    expect(Object.keys(e.units)).not.toContain("operator-password-key.service");
    expect(e.activation).not.toContain("nixsealForUsers");
  });

  it("neededForUsers with userborn: the same unit, before userborn", () => {
    const e = ok("userborn", { "alice-password": secret({ neededForUsers: true }) });
    expect(words(unit(e, "nixseal-restore-for-users.service"), "Unit", "Before")).toContain("userborn.service");
    expect(words(unit(e, "userborn.service"), "Unit", "Before")).toContain("sysinit.target");
    expect(e.users.alice!.hashedPasswordFile).toBe("/run/nixseal/for-users/alice-password");
    expect(e.activation).not.toContain("nixsealForUsers");
  });

  it("neededForUsers with the activation script: a snippet before the users snippet, reading the config from the store", () => {
    const e = ok("activation-users", { "root-password": secret({ neededForUsers: true }) });
    expect(Object.keys(e.units)).not.toContain("nixseal-restore-for-users.service");
    const snippet = e.activation.indexOf("#### Activation script snippet nixsealForUsers:");
    const users = e.activation.indexOf("#### Activation script snippet users:");
    expect(snippet).toBeGreaterThan(-1);
    expect(users).toBeGreaterThan(snippet);
    const body = e.activation.slice(snippet, users);
    expect(body).toMatch(new RegExp(`${e.agentPath.replace(/[.]/g, "\\.")} restore --for-users --config /nix/store/[a-z0-9]{32}-nixseal-agent\\.json`));
    expect(body).toMatch(/mount -t (tmpfs|ramfs) -o mode=0751/);
    expect(e.users.root!.hashedPasswordFile).toBe("/run/nixseal/for-users/root-password");
  });

  it("neededForUsers refuses a secret that is not root-owned", () => {
    const e = run("activation-users", { "root-password": secret({ neededForUsers: true, owner: "alice" }) }, "for-users-not-root");
    expect(e.failedAssertions).toEqual(["services.nixseal.secretsFile: secret root-password is neededForUsers, so it must be owned by root:root (it is restored before any other user exists)"]);
  });

  it("openssh disabled: identityPaths is empty and says so; set by hand it evaluates", () => {
    const e = run("openssh-disabled");
    expect(e.failedAssertions).toEqual([
      "services.nixseal.identityPaths is empty (services.openssh is disabled): set it to the SSH private keys the host's secrets are encrypted to, or enable services.openssh with an ed25519 or rsa host key",
    ]);
    const f = ok("openssh-disabled-identity");
    expect(words(unit(f, "nixseal-restore.service"), "Unit", "RequiresMountsFor")).toContain("/var/lib/nixseal-key/ssh_host_ed25519_key");
  });

  it("impermanence (tmpfs root): warns that the state dir does not survive a reboot, and stops once it is persisted", () => {
    const e = ok("impermanence");
    expect(ours(e)).toEqual([
      'services.nixseal: the state dir /var/lib/nixseal is on a tmpfs (fileSystems."/"), which does not survive a reboot; keep it on a persistent filesystem (e.g. a fileSystems entry or a bind mount from persistent storage for /var/lib/nixseal)',
    ]);
    const f = ok("impermanence-persisted");
    expect(ours(f)).toEqual([]);
    expect(words(unit(f, "nixseal-restore.service"), "Unit", "RequiresMountsFor")).toEqual(expect.arrayContaining(["/var/lib/nixseal", "/etc/ssh/ssh_host_ed25519_key"]));
  });

  it("autoUpgrade: nothing the unattended switch starts can wait without a bound", () => {
    const e = ok("auto-upgrade", { "app-key": secret({ neededBy: ["app.service"] }) });
    unit(e, "nixos-upgrade.service");
    for (const [name, u] of Object.entries(e.units).filter(([n]) => n.startsWith("nixseal") || n.endsWith("-key.service"))) {
      expect(words(u.text, "Service", "TimeoutStartSec"), name).not.toContain("infinity");
      expect(words(u.text, "Service", "Restart"), name).not.toContain("always");
    }
    expect(words(unit(e, "app-key-key.service"), "Service", "X-RestartIfChanged")).toEqual(["false"]);
  });

  it("keyTimeout, keepGenerations and fsType set away from their defaults reach the units and agent.json", () => {
    const e = ok("key-timeout", { a: secret() });
    expect(words(unit(e, "a-key.service"), "Service", "ExecStart")[3]).toBe("5");
    expect(words(unit(e, "a-key.service"), "Service", "TimeoutStartSec")).toEqual(["20s"]);
    expect(agentJson(e).keepGenerations).toBe(10);
    const mount = unit(e, "run-nixseal.mount");
    expect(words(mount, "Mount", "Type")).toEqual(["ramfs"]);
    expect(words(mount, "Mount", "Options")[0]).not.toContain("noswap");
  });
});

describe("services.nixseal.server: the pull units of units.json", () => {
  const PULL_UNITS = Object.keys(unitsJson.pull.units as Record<string, unknown>);

  it("off by default: no pull unit", () => {
    const e = ok("minimal", {}, "minimal-no-pull");
    for (const n of PULL_UNITS) expect(Object.keys(e.units)).not.toContain(n);
  });

  it("url and trustKeys: a timer pulls, signed bundles only, as the host the generated file names, hardened like the agent but on the network", () => {
    const e = ok("server-pull", { db: secret() });
    expect(Object.keys(e.units)).not.toContain("nixseal-follow.service");
    const timer = unit(e, "nixseal-pull.timer");
    expect(words(timer, "Timer", "OnUnitActiveSec")).toEqual(["10min"]);
    expect(e.units["nixseal-pull.timer"]!.wantedBy).toEqual(["timers.target"]);
    const service = unit(e, "nixseal-pull.service");
    const exec = words(service, "Service", "ExecStart");
    expect(exec.slice(0, 4)).toEqual([e.agentPath, "pull", "--config", "/etc/nixseal/agent.json"]);
    expect(exec.slice(4, 6)).toEqual(['"--server"', '"https://secrets.example.org"']);
    expect(exec[6]).toBe('"--trust-key"');
    expect(exec.slice(-2)).toEqual(['"--host"', '"web1"']);
    // The key line became a file of the store, holding that line.
    const keyFile = exec[7]!.replace(/^"|"$/g, "");
    expect(keyFile).toMatch(/^\/nix\/store\/[a-z0-9]{32}-nixseal-trust-key-1\.pub$/);
    expect(words(service, "Service", "PrivateNetwork")).toEqual(["no"]);
    expect(words(service, "Service", "RestrictAddressFamilies")).toEqual(["AF_UNIX", "AF_INET", "AF_INET6"]);
    for (const k of ["ProtectSystem", "NoNewPrivileges", "CapabilityBoundingSet", "SystemCallFilter"]) expect(words(service, "Service", k), k).toEqual(words(unit(e, "nixseal-agent.service"), "Service", k));
    expect(words(service, "Unit", "After")).toEqual(expect.arrayContaining(["network-online.target", "nixseal-restore.service"]));
  });

  it("follow: a long-polling service instead of the timer, the URL quoted so systemd expands none of it", () => {
    const e = ok("server-follow", { db: secret() });
    expect(Object.keys(e.units)).not.toContain("nixseal-pull.timer");
    expect(Object.keys(e.units)).not.toContain("nixseal-pull.service");
    const service = unit(e, "nixseal-follow.service");
    expect(e.units["nixseal-follow.service"]!.wantedBy).toEqual(["multi-user.target"]);
    expect(sectionLine(service, "ExecStart")).toBe(`ExecStart=${e.agentPath} pull --follow --config /etc/nixseal/agent.json "--server" "http://127.0.0.1:8443/nix%%20seal/$$HOME" "--trust-server" "--host" "web1"`);
    expect(words(service, "Service", "Restart")).toEqual(["always"]);
  });

  it("refuses a server without whom to trust, a URL that is not http(s), a key line that is a path", () => {
    const e = run("server-untrusted", { db: secret() });
    expect(e.failedAssertions).toEqual([
      expect.stringContaining("trustKeys and trustServer exclude each other"),
      expect.stringContaining('services.nixseal.server.url = "ftp://secrets.example.org": give an http:// or https:// URL'),
      expect.stringContaining('"/etc/nixseal/operator.pub" is not an ssh-ed25519 or ssh-rsa public key line'),
    ]);
  });
});

describe("nix/module.nix refuses what it cannot wire", () => {
  it("no generated file", () => {
    const e = evaluate("no-secrets-file");
    expect(e.failedAssertions).toEqual([expect.stringContaining("services.nixseal.secretsFile is not set")]);
    expect(e.failedAssertions[0]).toContain("nixseal host sync");
  });

  it("a generated file edited by hand (its digest does not match)", () => {
    const file = writeSecretsFile(dirFor("edited"), "web1", { a: secret() });
    const data = JSON.parse(readFileSync(file, "utf8"));
    data.secrets.a.owner = "alice";
    writeFileSync(file, JSON.stringify(data));
    const e = evaluate("minimal", file);
    expect(e.failedAssertions).toEqual([expect.stringContaining("was changed by hand")]);
    expect(e.failedAssertions[0]).toContain('nixseal host sync web1');
  });

  it("a generated file whose template entry was edited by hand", () => {
    const file = writeSecretsFile(dirFor("edited-template"), "web1", { a: secret() }, { "app.env": template() });
    const data = JSON.parse(readFileSync(file, "utf8"));
    data.templates["app.env"].mode = "0444";
    writeFileSync(file, JSON.stringify(data));
    const e = evaluate("minimal", file);
    expect(e.failedAssertions).toEqual([expect.stringContaining("was changed by hand")]);
  });

  it("a name that is both a secret and a template", () => {
    const file = writeSecretsFile(dirFor("shared-name"), "web1", { "app.env": secret() }, { "app.env": template() });
    const e = evaluate("minimal", file);
    expect(e.failedAssertions).toEqual([expect.stringContaining("app.env is both a secret and a template; names are shared")]);
    expect(e.failedAssertions[0]).toContain("nixseal host sync web1");
  });

  it("a file of another format", () => {
    const file = join(tmp.dir, "v0.json");
    writeFileSync(file, JSON.stringify({ format: "nixseal-host-secrets/v0", secrets: {} }));
    expect(evaluate("minimal", file).failedAssertions).toEqual([expect.stringContaining('has format "nixseal-host-secrets/v0"; this module reads nixseal-host-secrets/v1')]);
  });

  it("a name the rule forbids (written by an older nixseal) names the rename command", () => {
    const file = writeSecretsFile(dirFor("plus"), "web1", { "a+b": secret(), Db: secret(), db: secret() });
    const e = evaluate("minimal", file);
    expect(e.failedAssertions).toEqual([expect.stringContaining("a+b, Db, db:")]);
    expect(e.failedAssertions[0]).toContain("nixseal secrets rename OLD NEW");
  });

  it("the per-secret options of the earlier module are gone, with the way forward", () => {
    const e = evaluate("removed-secrets-option", writeSecretsFile(dirFor("removed"), "web1", {}));
    expect(e.failedAssertions).toHaveLength(1);
    expect(e.failedAssertions[0]).toContain("services.nixseal.secrets");
    expect(e.failedAssertions[0]).toContain("--needed-by");
  });
});

describe("the generated units under real systemd (systemd-analyze verify, systemd 252)", () => {
  it("every configuration of the matrix: no ordering cycle, no error", () => {
    expect(evaluated.size).toBeGreaterThanOrEqual(12);
    for (const [label, e] of evaluated) {
      const dir = join(tmp.dir, `units-${label}`);
      writeUnitDir(dir, e.units, forVerify);
      const r = verifyUnitDir(dir);
      expect(r.output, label).not.toMatch(/cycle|rror|Failed|Unknown|not found|Invalid|ignoring/i);
      expect(r.code, `${label}: ${r.output}`).toBe(0);
    }
  });

  it("would notice a cycle (a key unit with default dependencies before a socket)", () => {
    const e = evaluated.get("consumers")!;
    const dir = join(tmp.dir, "units-cycle");
    writeUnitDir(dir, e.units, (t, name) => (name === "api-token-key.service" ? forVerify(t).replace(/^DefaultDependencies=false\n/m, "") : forVerify(t)));
    expect(verifyUnitDir(dir).output).toMatch(/ordering cycle/);
  });
});

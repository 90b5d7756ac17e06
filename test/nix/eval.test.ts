// Evaluates nix/module.nix inside a real NixOS configuration
// (nixos/lib/eval-config.nix) and checks the unit files NixOS generates from
// it. nixpkgs cannot be fetched on these machines, so this runs only when
// NIXPKGS=/path/to/nixpkgs is set, and says so when it is skipped.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { agentConfigSchema } from "../../host-agent/config/schema.js";
import { ROOT, haveNix, normalize, parseUnitText, type Sections } from "./nix.js";

const NIXPKGS = process.env.NIXPKGS;
const why = !NIXPKGS
  ? "NIXPKGS is not set (nixpkgs is not reachable here); run with NIXPKGS=/path/to/nixpkgs"
  : !haveNix()
    ? "nix-instantiate is not installed (nix-bin)"
    : "";
if (why) console.warn(`test/nix/eval.test.ts: SKIPPED the NixOS evaluation test: ${why}`);

type Unit = { text: string; wantedBy: string[]; requiredBy: string[] };
type Host = {
  units: Record<string, Unit>;
  failedAssertions: string[];
  warnings: string[];
  agentJson: string;
  tmpfiles: string[];
  agentPath: string;
  kernelVersion: string;
  fsType: string;
  readWritePaths: string[];
  identityPaths: string[];
  hostKeys: { type: string; path: string }[];
};

function evalHost(host = "sample"): Host {
  const out = execFileSync(
    "nix-instantiate",
    ["--eval", "--strict", "--json", "test/nix/eval-host.nix", "--argstr", "nixpkgs", NIXPKGS!, "--argstr", "host", host],
    { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "pipe"] },
  );
  return JSON.parse(out) as Host;
}

/** units.json's sections as the module should have rendered them on this host. */
function expectedSections(host: Host): Sections {
  const json = JSON.parse(readFileSync(`${ROOT}/host-agent/systemd/units.json`, "utf8"));
  const ph: Record<string, string | string[]> = {
    "@agent@": host.agentPath,
    "@config@": json.paths.config,
    "@fsType@": json.mount[host.fsType].fsType,
    "@fsOptions@": json.mount[host.fsType].fsOptions,
    "@readWritePaths@": host.readWritePaths,
  };
  const sub = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.flatMap((x) => (Array.isArray(ph[x]) ? (ph[x] as string[]) : [sub(x)]))
      : Object.entries(ph).reduce((s, [k, r]) => (typeof r === "string" ? s.split(k).join(r) : s), String(v));
  const out: Sections = {};
  for (const [name, sections] of Object.entries(json.units as Sections)) {
    const s = json.hardenedUnits.includes(name) ? { ...sections, Service: { ...json.hardening, ...sections.Service } } : sections;
    out[name] = {};
    for (const [sec, keys] of Object.entries(s))
      out[name][sec] = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, sub(v)]));
  }
  return out;
}

describe.skipIf(why !== "")("NixOS evaluation of nix/module.nix (NIXPKGS)", () => {
  let host: Host;
  beforeAll(() => {
    host = evalHost();
  }, 600_000);
  const unit = (n: string) => {
    expect(host.units, `NixOS generated no ${n}`).toHaveProperty([n]);
    return parseUnitText(host.units[n].text);
  };

  it("raises no assertion, and warns only about the owner no one declared", () => {
    expect(host.failedAssertions).toEqual([]);
    const ours = host.warnings.filter((w) => w.includes("services.nixseal"));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toContain("worker-token.owner: user ghost");
  });

  it("renders every agent unit with exactly units.json's settings (ExecStart, ordering, hardening, mount)", () => {
    const expected = normalize(expectedSections(host));
    for (const [name, sections] of Object.entries(expected)) {
      const got = normalize({ [name]: unit(name) as Sections[string] })[name];
      for (const [sec, keys] of Object.entries(sections)) {
        if (sec === "Install") continue; // NixOS makes these links, not [Install] lines: checked below
        for (const [k, v] of Object.entries(keys)) expect(got[sec]?.[k], `${name} [${sec}] ${k}`).toEqual(v);
      }
      const install = sections.Install ?? {};
      expect(host.units[name].wantedBy.sort()).toEqual([...(install.WantedBy ?? [])].sort());
      expect(host.units[name].requiredBy.sort()).toEqual([...(install.RequiredBy ?? [])].sort());
    }
  });

  it("starts the packaged agent with the generated config", () => {
    const restore = unit("nixseal-restore.service");
    expect(restore.Service.ExecStart).toEqual([`${host.agentPath} restore --config /etc/nixseal/agent.json`]);
    expect(host.agentPath).toMatch(/^\/nix\/store\/[a-z0-9]{32}-nixseal-[^/]+\/bin\/nixseal-agent$/);
    expect(unit("nixseal-agent.service").Service.ExecStart).toEqual([`${host.agentPath} serve --config /etc/nixseal/agent.json`]);
  });

  it("mounts the memory filesystem the kernel supports", () => {
    const mount = unit("run-nixseal.mount");
    expect(mount.Mount.Where).toEqual(["/run/nixseal"]);
    const major = host.kernelVersion.split(".").map(Number);
    const noswap = major[0] > 6 || (major[0] === 6 && major[1] >= 4);
    expect(mount.Mount.Type).toEqual([noswap ? "tmpfs" : "ramfs"]);
    expect(mount.Mount.Options[0].includes("noswap")).toBe(noswap);
  });

  it("orders each neededBy unit after its key and the secrets target, and requires the target", () => {
    for (const [svc, key] of [
      ["caddy.service", "caddy-tls-key.service"],
      ["podman-app.service", "app-env-key.service"],
    ]) {
      const u = normalize({ u: unit(svc) as Sections[string] }).u.Unit;
      expect(u.After).toEqual(expect.arrayContaining(["nixseal-secrets.target", key]));
      expect(u.Requires).toEqual(expect.arrayContaining(["nixseal-secrets.target"]));
      expect(u.Wants).toEqual(expect.arrayContaining([key]));
    }
  });

  it("has NixOps-compatible <name>-key.service units and a keys.target that waits for nixseal", () => {
    for (const name of ["caddy-tls", "app-env", "worker-token"]) {
      const k = unit(`${name}-key.service`);
      expect(k.Service.Restart).toEqual(["always"]);
      expect(k.Service.TimeoutStartSec).toEqual(["infinity"]);
      expect(k.Service.ExecStartPre?.length).toBe(1);
      expect(k.Service.ExecStart?.length).toBe(1);
      expect(k.Unit.StartLimitIntervalSec).toEqual(["0"]);
      expect(k.Unit.Description[0]).toContain(`/run/keys/${name}`);
    }
    const keys = normalize({ k: unit("keys.target") as Sections[string] }).k.Unit;
    expect(keys.After).toContain("nixseal-secrets.target");
    expect(keys.Wants).toEqual(expect.arrayContaining(["nixseal-secrets.target", "worker-token-key.service"]));
    // The unit written for NixOps is untouched and still finds its key unit.
    const legacy = normalize({ l: unit("legacy-worker.service") as Sections[string] }).l.Unit;
    expect(legacy.After).toEqual(["keys.target", "worker-token-key.service"]);
  });

  it("writes an agent.json the agent's own schema accepts, with the host's SSH keys", () => {
    const cfg = agentConfigSchema.parse(JSON.parse(host.agentJson));
    const expectedKeys = host.hostKeys.filter((k) => k.type === "ed25519" || k.type === "rsa").map((k) => k.path);
    expect(expectedKeys.length).toBeGreaterThan(0);
    expect(cfg.identityPaths).toEqual(expectedKeys);
    expect(cfg.readWritePaths).toEqual(["/var/lib/caddy"]);
    expect(cfg).toMatchObject({ stateDir: "/var/lib/nixseal", runDir: "/run/nixseal", keysDir: "/run/keys", keepGenerations: 5 });
  });

  it("leaves NixOS' own /run/keys ramfs alone (no tmpfiles link over it) and creates ReadWritePaths", () => {
    expect(host.tmpfiles.filter((r) => / \/run\/keys /.test(r) && r.startsWith("L"))).toEqual([]);
    expect(host.tmpfiles).toContain("d /var/lib/caddy - - - -");
  });
});

describe.skipIf(why !== "")("NixOS evaluation of docs/nixos.md's example host (NIXPKGS)", () => {
  /** The configuration.nix block of the docs, with a stub for its hardware-configuration.nix. */
  function docsHost(): string {
    const docs = readFileSync(`${ROOT}/docs/nixos.md`, "utf8");
    const block = [...docs.matchAll(/```nix\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes("services.nixseal = {"));
    expect(block, "docs/nixos.md has no configuration.nix block").toBeDefined();
    const hardware = `{ boot.loader.grub.enable = false; fileSystems."/" = { device = "/dev/vda1"; fsType = "ext4"; }; }`;
    const dir = mkdtempSync(join(tmpdir(), "nixseal-docs-host-"));
    writeFileSync(join(dir, "hardware-configuration.nix"), hardware);
    writeFileSync(join(dir, "configuration.nix"), block!);
    return join(dir, "configuration.nix");
  }

  it("evaluates with no failed assertion and wires Caddy and the container to their keys", () => {
    const host = evalHost(docsHost());
    expect(host.failedAssertions).toEqual([]);
    expect(host.warnings.filter((w) => w.includes("services.nixseal"))).toEqual([]);
    const after = (u: string) => normalize({ u: parseUnitText(host.units[u].text) as Sections[string] }).u.Unit.After;
    expect(after("caddy.service")).toEqual(expect.arrayContaining(["nixseal-secrets.target", "blog-tls-key-key.service"]));
    expect(after("podman-app.service")).toEqual(expect.arrayContaining(["nixseal-secrets.target", "app-env-key.service"]));
  }, 600_000);
});

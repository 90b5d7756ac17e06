// nixseal deploy over real sshd to real systemd test hosts: one host, an unattended
// reboot, status/dry-run/rollback, then ten hosts at once. The rebuild is the
// nixos-rebuild stand-in (test/hosts/fixtures); everything else is real.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import {
  addHost,
  addSecret,
  grepTree,
  hostFile,
  newRepo,
  nixseal,
  nixsealOk,
  prepareHost,
  standinRuns,
  summary,
  writeConfig,
  type TestRepo,
} from "./fixtures/deploy-env.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const value = (label: string) => `${label}-${randomBytes(12).toString("hex")}`;

/** owner group mode of a live key, through /run/keys. */
async function keyStat(h: TestHost, name: string): Promise<string> {
  return (await h.exec(`stat -L -c '%U %G %a' /run/keys/${name}`)).stdout.trim();
}
async function keyValue(h: TestHost, name: string): Promise<string> {
  return (await h.exec(`cat /run/keys/${name}`)).stdout;
}

describe("nixseal deploy (real sshd, real agent, nixos-rebuild stand-in)", () => {
  let repo: TestRepo;
  const hosts: TestHost[] = [];
  const values = { web: value("web-token"), db: value("db-password"), api: value("api-key") };
  const outputs: string[] = [];
  const everyValue = () => [...new Set([...Object.values(values), ...oldValues])];
  const oldValues: string[] = [];

  const rotateDb = () => {
    oldValues.push(values.db);
    return (values.db = value("db-password-v2"));
  };
  const rotate = () => {
    oldValues.push(values.web);
    return (values.web = value("web-token-v2"));
  };

  beforeAll(async () => {
    repo = await newRepo();
  });
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await repo?.cleanup();
  });

  it("deploys one host: config in /etc/nixos, secrets live with their owners, the stand-in saw the new config", async () => {
    const h = await bootHost("dep1");
    hosts.push(h);
    await prepareHost(h, ["svc-web", "svc-db"]);
    await addHost(repo, h);
    const config = await writeConfig(repo, "dep1", "first deploy");
    await addSecret(repo, "web-token", ["dep1"], values.web, "svc-web", "svc-web", "0400");
    await addSecret(repo, "db-password", ["dep1"], values.db, "svc-db", "svc-web", "0440");

    const r = await nixseal(repo, ["deploy", "dep1", "--json"]);
    outputs.push(r.stdout, r.stderr);
    const s = summary(r);
    expect(r.code, r.stderr).toBe(0);
    expect(s.ok).toBe(true);
    expect(s.hosts[0]).toMatchObject({ host: "dep1", ok: true, outcome: "deployed" });

    expect(hostFile(h, "/etc/nixos/configuration.nix")).toBe(config);
    expect(await keyStat(h, "web-token")).toBe("svc-web svc-web 400");
    expect(await keyStat(h, "db-password")).toBe("svc-db svc-web 440");
    expect(await keyValue(h, "web-token")).toBe(values.web);
    expect(await keyValue(h, "db-password")).toBe(values.db);

    const runs = standinRuns(h);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.args).toBe("switch");
    expect(runs[0]!.files.get("configuration.nix")).toBe(sha256(config));
    expect(runs[0]!.result).toBe("ok");
    // nothing left in staging, the lock is free, the state dir still root-only (never chmod 0755)
    expect((await h.exec("ls -A /var/lib/nixseal/staging")).stdout.trim()).toBe("");
    expect((await h.exec("stat -c %a /var/lib/nixseal")).stdout.trim()).toBe("700");
    expect((await h.exec("flock -n /var/lib/nixseal/deploy.lock true", { check: false })).code).toBe(0);
  });

  it("after an unattended reboot (and a power cut) the secrets are back and the config is still in /etc/nixos", async () => {
    const h = hosts[0]!;
    const before = h.bootId;
    await h.reboot();
    expect(h.bootId).not.toBe(before);
    expect(hostFile(h, "/etc/nixos/configuration.nix")).toContain("first deploy");
    await h.waitFor(async () => (await h.exec("test -e /run/keys/web-token", { check: false })).code === 0, 30_000, "/run/keys/web-token after reboot");
    expect(await keyStat(h, "web-token")).toBe("svc-web svc-web 400");
    expect(await keyValue(h, "web-token")).toBe(values.web);
    expect(await keyValue(h, "db-password")).toBe(values.db);
    // the agent's API (for the next deploys) comes up after the keys
    await h.waitFor(async () => (await h.exec("test -S /run/nixseal-agent/agent.sock", { check: false })).code === 0, 30_000, "agent socket");

    // and after a power cut (SIGKILL to PID 1): the installed config was synced to disk
    await h.powerCut();
    await h.waitFor(async () => (await h.exec("test -e /run/keys/db-password", { check: false })).code === 0, 30_000, "/run/keys/db-password after power cut");
    expect(hostFile(h, "/etc/nixos/configuration.nix")).toContain("first deploy");
    expect(await keyStat(h, "db-password")).toBe("svc-db svc-web 440");
    expect(await keyValue(h, "db-password")).toBe(values.db);
    await h.waitFor(async () => (await h.exec("test -S /run/nixseal-agent/agent.sock", { check: false })).code === 0, 30_000, "agent socket");
  });

  it("status says in sync; --dry-run lists a changed file and a rotated secret and changes nothing", async () => {
    const h = hosts[0]!;
    const st = await nixseal(repo, ["status", "dep1", "--json"]);
    outputs.push(st.stdout, st.stderr);
    expect(st.code, st.stdout + st.stderr).toBe(0);
    expect(summary(st).hosts[0]).toMatchObject({ host: "dep1", ok: true, outcome: "in-sync" });

    await writeConfig(repo, "dep1", "second deploy");
    await nixsealOk(repo, ["secrets", "rotate", "web-token"], { stdin: rotate() });
    const dry = await nixseal(repo, ["deploy", "dep1", "--dry-run"]);
    outputs.push(dry.stdout, dry.stderr);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/\/etc\/nixos\/configuration\.nix: changed/);
    expect(dry.stdout).toMatch(/secret web-token: version 1 -> 2/);
    expect(hostFile(h, "/etc/nixos/configuration.nix")).toContain("first deploy");
    expect(standinRuns(h)).toHaveLength(1);

    const drift = await nixseal(repo, ["status", "dep1"]);
    expect(drift.code).toBe(1);
    expect(drift.stdout).toMatch(/web-token: version 1 -> 2/);
  });

  it("a second deploy switches both; rollback puts back the previous config and secrets", async () => {
    const h = hosts[0]!;
    const r = await nixseal(repo, ["deploy", "dep1"]);
    outputs.push(r.stdout, r.stderr);
    expect(r.code, r.stderr).toBe(0);
    expect(hostFile(h, "/etc/nixos/configuration.nix")).toContain("second deploy");
    expect(await keyValue(h, "web-token")).toBe(values.web);

    const rb = await nixseal(repo, ["rollback", "dep1", "--json"]);
    outputs.push(rb.stdout, rb.stderr);
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    expect(hostFile(h, "/etc/nixos/configuration.nix")).toContain("first deploy");
    const runs = standinRuns(h);
    expect(runs.at(-1)!.files.get("configuration.nix")).toBe(sha256(hostFile(h, "/etc/nixos/configuration.nix")!));
    expect(await keyValue(h, "web-token")).not.toBe(values.web);

    // and forward again, for the ten-host step
    expect((await nixseal(repo, ["deploy", "dep1"])).code).toBe(0);
    expect(await keyValue(h, "web-token")).toBe(values.web);
  });

  it("is flake-aware, passes --upgrade through, and --secrets-only / --config-only touch only their half", async () => {
    const h = hosts[0]!;
    const config = await writeConfig(repo, "dep1", "flake config", { "flake.nix": "{ outputs = { self, nixpkgs }: { }; }\n" });
    const runsBefore = standinRuns(h).length;
    const c = await nixseal(repo, ["deploy", "dep1", "--config-only", "--upgrade"]);
    outputs.push(c.stdout, c.stderr);
    expect(c.code, c.stderr).toBe(0);
    const runs = standinRuns(h);
    expect(runs).toHaveLength(runsBefore + 1);
    expect(runs.at(-1)!.args).toBe("switch --flake /etc/nixos#dep1 --upgrade");
    expect(runs.at(-1)!.files.get("flake.nix")).toBeDefined();
    expect(hostFile(h, "/etc/nixos/configuration.nix")).toBe(config);
    const genBefore = (await h.exec("readlink /var/lib/nixseal/current")).stdout;

    await writeConfig(repo, "dep1", "not shipped by --secrets-only");
    await nixsealOk(repo, ["secrets", "rotate", "db-password"], { stdin: rotateDb() });
    const s = await nixseal(repo, ["deploy", "dep1", "--secrets-only"]);
    outputs.push(s.stdout, s.stderr);
    expect(s.code, s.stderr).toBe(0);
    expect(standinRuns(h)).toHaveLength(runsBefore + 1); // no rebuild
    expect(hostFile(h, "/etc/nixos/configuration.nix")).toBe(config);
    expect(await keyValue(h, "db-password")).toBe(values.db);
    expect((await h.exec("readlink /var/lib/nixseal/current")).stdout).not.toBe(genBefore);
  });

  it("deploys ten hosts at once", async () => {
    const more = await Promise.all(Array.from({ length: 9 }, (_, i) => bootHost(`dep${i + 2}`)));
    hosts.push(...more);
    const all = hosts.slice(0, 10);
    await Promise.all(more.map((h) => prepareHost(h, ["svc-web", "svc-db"])));
    for (const h of more) await addHost(repo, h);
    const configs = new Map<string, string>();
    for (const h of all) configs.set(h.name, await writeConfig(repo, h.name, `ten at once ${h.name}`));
    await addSecret(repo, "api-key", all.map((h) => h.name), values.api, "svc-web", "svc-db", "0440");
    await nixsealOk(repo, ["secrets", "set", "web-token", "--host", all.map((h) => h.name).join(",")]);

    const r = await nixseal(repo, ["deploy", "--parallel", "10", "--json"]);
    outputs.push(r.stdout, r.stderr);
    const s = summary(r);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(s.hosts.map((x) => x.host).sort()).toEqual(all.map((h) => h.name).sort());
    expect(s.hosts.every((x) => x.ok)).toBe(true);
    await Promise.all(
      all.map(async (h) => {
        expect(hostFile(h, "/etc/nixos/configuration.nix")).toBe(configs.get(h.name));
        expect(standinRuns(h).at(-1)!.files.get("configuration.nix")).toBe(sha256(configs.get(h.name)!));
        expect(await keyStat(h, "api-key")).toBe("svc-web svc-db 440");
        expect(await keyValue(h, "api-key")).toBe(values.api);
        expect(await keyValue(h, "web-token")).toBe(values.web);
      }),
    );
  });

  it("no secret value on any host's disk, in the repo, or in deploy output", async () => {
    for (const v of everyValue()) {
      for (const o of outputs) expect(o.includes(v)).toBe(false);
      expect(await grepTree(repo.dir, v)).toEqual([]);
      for (const h of hosts) expect(await grepTree(h.upperDir, v)).toEqual([]);
    }
    // nor in any host's journal (volatile or not) or its process list
    for (const h of hosts) {
      const logs = (await h.exec("journalctl --no-pager -o cat 2>/dev/null; ps -eo args")).stdout;
      expect(logs.length).toBeGreaterThan(0);
      for (const v of everyValue()) expect(logs.includes(v)).toBe(false);
    }
  });
});

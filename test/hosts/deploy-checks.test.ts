// deploy --dry-run checks what a deploy checks before it changes anything (the agent
// answers through the forwarded socket, every owner and group exists, every unit a secret
// names exists, the bundle decrypts with the host's key, the config dir ships, the rebuild
// is there, the lock is free), reports every problem at once and exits 1 when the deploy
// would fail, 0 otherwise; and the deploy then does what the dry run said. Restarts and
// reloads are shown with their result, in the progress view and in --json. Real sshd,
// real agent (socket-activated), real systemd units; the rebuild is the stand-in.
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import { recordingUnit } from "./agent-support.js";
import { addHost, newRepo, nixseal, nixsealOk, prepareHost, standinRuns, writeConfig, type TestRepo } from "./fixtures/deploy-env.js";

const value = (label: string) => `${label}-${randomBytes(12).toString("hex")}`;

/** A service that records its starts and reloads; it fails to (re)start while /etc/NAME.fail exists. */
const unit = (name: string) => recordingUnit(name, `/etc/${name}.fail`);

type Json = {
  ok: boolean;
  hosts: {
    host: string;
    ok: boolean;
    outcome: string;
    error?: { code: string; message: string; hints: string[] };
    plan?: { problems: { code: string; message: string; secret?: string; unit?: string }[] };
    units?: { unit: string; action: string; result: string; error?: string }[];
  }[];
};
const json = (r: { stdout: string }): Json => JSON.parse(r.stdout) as Json;

describe("deploy --dry-run tells the truth; restarts are reported", () => {
  let h: TestHost;
  let repo: TestRepo;
  const values: string[] = [];
  const keep = (v: string) => (values.push(v), v);
  const add = async (name: string, v: string, owner: string, extra: string[] = []) => {
    values.push(v);
    await nixsealOk(repo, ["secrets", "add", name, "--host", h.name, "--owner", owner, "--group", "root", ...extra], { stdin: v });
  };
  /** What a deploy could have changed on the host: generations, live secrets, staging, /etc/nixos, the rebuilds. */
  const hostState = async () =>
    (await h.exec("ls /var/lib/nixseal/generations 2>/dev/null; readlink /run/nixseal/current; ls -A /var/lib/nixseal/staging 2>/dev/null; ls /etc/nixos 2>/dev/null; ls /var/lib/svc 2>/dev/null; cat /var/lib/svc/* 2>/dev/null", { check: false })).stdout +
    standinRuns(h).length;

  beforeAll(async () => {
    repo = await newRepo();
    h = await bootHost("chk1");
    await prepareHost(h, ["svc-app"]);
    for (const s of ["svc-a", "svc-b", "svc-bad"]) await h.writeFile(`/etc/systemd/system/${s}.service`, unit(s));
    await h.exec("systemctl daemon-reload && systemctl start svc-a.service svc-b.service svc-bad.service");
    await addHost(repo, h);
    await add("app-token", value("app-token"), "svc-app", ["--restart-unit", "svc-a.service", "--reload-unit", "svc-b.service"]);
    // the first deploy: secrets only (no hosts/chk1/ in the repo yet)
    await nixsealOk(repo, ["deploy", h.name]);
  });
  afterAll(async () => {
    await h?.stop();
    await repo?.cleanup();
  });

  it("exits 0 when the deploy would work, lists what would change, and changes nothing", async () => {
    await nixsealOk(repo, ["secrets", "rotate", "app-token"], { stdin: keep(value("app-token-v2")) });
    const before = await hostState();
    const r = await nixseal(repo, ["deploy", h.name, "--dry-run"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/chk1: agent healthy, generation 1/);
    expect(r.stdout).toMatch(/secret app-token: version 1 -> 2/);
    expect(r.stdout).toMatch(/would restart svc-a\.service, reload svc-b\.service/);
    expect(r.stderr).toMatch(/deploy --dry-run: 1 of 1 host\(s\) ok/);
    expect(await hostState()).toBe(before);
    expect((await h.exec("flock -n /var/lib/nixseal/deploy.lock true", { check: false })).code).toBe(0);
  });

  it("the deploy shows each restart and reload with its result, in the progress view and in --json", async () => {
    const r = await nixseal(repo, ["deploy", h.name]); // plain progress: stderr is not a terminal
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/chk1: {3}restart svc-a\.service: ok/);
    expect(r.stderr).toMatch(/chk1: {3}reload svc-b\.service: ok/);
    expect(r.stderr).toMatch(/chk1: deployed, secrets generation 2, svc-a\.service restart ok, svc-b\.service reload ok/);
    // started by hand, restarted by the first deploy (the secret was new) and by this one
    expect((await h.exec("cat /var/lib/svc/svc-a")).stdout.trim().split("\n")).toEqual(["start", "start", "start"]);
    expect((await h.exec("cat /var/lib/svc/svc-b")).stdout.trim().split("\n")).toEqual(["start", "reload", "reload"]);

    await nixsealOk(repo, ["secrets", "rotate", "app-token"], { stdin: keep(value("app-token-v3")) });
    const j = await nixseal(repo, ["deploy", h.name, "--json"]);
    expect(j.code, j.stderr).toBe(0);
    expect(json(j).hosts[0]!.units).toEqual([
      { unit: "svc-a.service", action: "restart", result: "ok" },
      { unit: "svc-b.service", action: "reload", result: "ok" },
    ]);
  });

  it("a unit that fails to restart: the new secrets stay live, the result says failed, exit 1", async () => {
    await nixsealOk(repo, ["secrets", "set", "app-token", "--restart-unit", "svc-bad.service"]);
    const v4 = value("app-token-v4");
    values.push(v4);
    await nixsealOk(repo, ["secrets", "rotate", "app-token"], { stdin: v4 });
    await h.exec("touch /etc/svc-bad.fail");
    const r = await nixseal(repo, ["deploy", h.name, "--json"]);
    expect(r.code).toBe(1);
    const host = json(r).hosts[0]!;
    expect(host.units).toMatchObject([
      { unit: "svc-bad.service", action: "restart", result: "failed" },
      { unit: "svc-b.service", action: "reload", result: "ok" },
    ]);
    expect(host.units![0]!.error).toMatch(/svc-bad\.service/);
    expect(host.error!.message).toMatch(/restart svc-bad\.service failed/);
    expect(host.error).toMatchObject({ code: "NIXSEAL_ERR_DEPLOY_RESTART" });
    expect(host.outcome).toBe("deployed");
    expect((await h.exec("cat /run/keys/app-token")).stdout).toBe(v4);
    await h.exec("rm /etc/svc-bad.fail && systemctl start svc-bad.service");
    await nixsealOk(repo, ["secrets", "set", "app-token", "--restart-unit", "svc-a.service"]);
  });

  it("exits 1 for missing owners and a missing unit, all reported at once; the deploy refuses the same before changing anything", async () => {
    await add("db-password", value("db"), "postgres", ["--restart-unit", "postgresql.service"]);
    await add("cache-key", value("cache"), "redis");
    const before = await hostState();
    const r = await nixseal(repo, ["deploy", h.name, "--dry-run", "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const host = json(r).hosts[0]!;
    expect(host.ok).toBe(false);
    const problems = host.plan!.problems.map((p) => p.message).join("\n");
    expect(problems).toMatch(/secret 'db-password': user 'postgres' does not exist on this host/);
    expect(problems).toMatch(/secret 'cache-key': user 'redis' does not exist on this host/);
    expect(problems).toMatch(/postgresql\.service.*(not on this host|not-found)/);
    expect(host.plan!.problems.map((p) => p.code)).toEqual(expect.arrayContaining(["NIXSEAL_ERR_AGENT_UNKNOWN_OWNER", "NIXSEAL_ERR_AGENT_UNIT_MISSING"]));
    // the text view says the same, each with its code
    const text = await nixseal(repo, ["deploy", h.name, "--dry-run"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/chk1: {3}would fail: secret 'db-password': user 'postgres' does not exist on this host \[NIXSEAL_ERR_AGENT_UNKNOWN_OWNER\]/);
    expect(text.stdout).toMatch(/chk1: {3}would fail: secret 'cache-key': user 'redis'/);
    expect(text.stderr).toMatch(/deploy --dry-run: 0 of 1 host\(s\) ok/);

    const real = await nixseal(repo, ["deploy", h.name, "--json"]);
    expect(real.code).toBe(1);
    const failed = json(real).hosts[0]!;
    expect(failed.error!.message).toMatch(/postgres/);
    expect(failed.error!.message).toMatch(/redis/);
    expect(failed.error!.message).toMatch(/postgresql\.service/);
    expect(await hostState()).toBe(before);

    // fixed on the host: the dry run is clean again, and the deploy works
    await h.exec("useradd --system --no-create-home postgres && useradd --system --no-create-home redis");
    await h.writeFile("/etc/systemd/system/postgresql.service", unit("postgresql"));
    await h.exec("systemctl daemon-reload && systemctl start postgresql.service");
    expect((await nixseal(repo, ["deploy", h.name, "--dry-run"])).code).toBe(0);
    expect((await nixseal(repo, ["deploy", h.name])).code).toBe(0);
  });

  it("exits 1 when the agent does not answer (the same forwarded socket deploy uses)", async () => {
    await h.exec("systemctl stop nixseal-agent.socket nixseal-agent.service");
    try {
      const r = await nixseal(repo, ["deploy", h.name, "--dry-run"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/chk1: agent NOT answering/);
      expect(r.stdout).toMatch(/would fail: host "chk1": the nixseal agent does not answer on \/run\/nixseal-agent\/agent\.sock/);
      const j = await nixseal(repo, ["deploy", h.name, "--dry-run", "--json"]);
      expect(json(j).hosts[0]!.plan!.problems[0]!.code).toBe("NIXSEAL_ERR_DEPLOY_AGENT");
    } finally {
      await h.exec("systemctl start nixseal-agent.socket");
    }
    expect((await nixseal(repo, ["deploy", h.name, "--dry-run"])).code).toBe(0);
  });

  it("with a config to ship: no nixos-rebuild on the host fails the dry run and the deploy before anything changes; a unit the rebuild may add is a warning", async () => {
    await writeConfig(repo, h.name, "checks");
    await add("mail-key", value("mail"), "root", ["--restart-unit", "postfix.service"]);
    await h.exec("mv /usr/local/sbin/nixos-rebuild /usr/local/sbin/nixos-rebuild.away");
    try {
      const before = await hostState();
      const r = await nixseal(repo, ["deploy", h.name, "--dry-run"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/would fail: host "chk1" has no nixos-rebuild \(is it a NixOS host\?\) \[NIXSEAL_ERR_DEPLOY_NO_REBUILD\]/);
      expect(r.stdout).toMatch(/postfix\.service is not on the host now: the rebuild must add it/);
      const real = await nixseal(repo, ["deploy", h.name]);
      expect(real.code).toBe(1);
      expect(real.stderr).toMatch(/has no nixos-rebuild/);
      expect(real.stderr).toMatch(/--secrets-only/);
      expect(await hostState()).toBe(before);
    } finally {
      await h.exec("mv /usr/local/sbin/nixos-rebuild.away /usr/local/sbin/nixos-rebuild");
    }
    const ok = await nixseal(repo, ["deploy", h.name, "--dry-run"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    // the deploy: postfix.service is reported as not found when the secret switches
    const d = await nixseal(repo, ["deploy", h.name, "--json"]);
    expect(d.code, d.stderr).toBe(0);
    expect(json(d).hosts[0]!.units).toEqual(expect.arrayContaining([{ unit: "postfix.service", action: "restart", result: "not-found" }]));
  });

  it("leaves no plaintext in the repo's output or the operator's temp dir", async () => {
    const r = await nixseal(repo, ["deploy", h.name, "--dry-run", "--json"]);
    for (const v of values) expect(r.stdout + r.stderr).not.toContain(v);
    expect(readdirSync(join(repo.dir, "secrets")).every((f) => f.endsWith(".age"))).toBe(true);
  });
});

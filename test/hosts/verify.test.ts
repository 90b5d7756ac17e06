// `nixseal verify` on a real test host: it reboots the machine (real systemd, real
// sshd), waits for it, and checks the agent's proof. A healthy host passes; a secret
// whose owner was removed fails, naming it; a unit that started before its key fails,
// naming the unit. Each case is one real reboot.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHost, addSecret, newRepo, nixseal, nixsealOk, prepareHost, type TestRepo } from "./fixtures/deploy-env.js";
import { bootHost, type TestHost } from "./harness/index.js";

let h: TestHost;
let repo: TestRepo;

const unit = (name: string, _body: string) => `/etc/systemd/system/${name}`;
const APP = `[Unit]
Description=a consumer ordered after its keys
Wants=nixseal-secrets.target
After=nixseal-secrets.target

[Service]
User=svc-app
ExecStart=/bin/sh -c 'test -r /run/keys/app-token && exec sleep infinity'

[Install]
WantedBy=multi-user.target
`;
// Starts before the restore on purpose: its key cannot be there yet.
const EARLY = `[Unit]
Description=a consumer that starts before its key
DefaultDependencies=no
Before=nixseal-restore.service

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`;

beforeAll(async () => {
  h = await bootHost("verify1");
  repo = await newRepo();
  await prepareHost(h, ["svc-app", "svc-db"]);
  await h.writeFile(unit("app.service", APP), APP);
  await h.exec("systemctl daemon-reload && systemctl enable app.service");
  await addHost(repo, h);
  await nixsealOk(repo, ["secrets", "add", "app-token", "--host", "verify1", "--owner", "svc-app", "--restart-unit", "app.service"], { stdin: "app-token-value" });
  await addSecret(repo, "db-pass", ["verify1"], "db-pass-value", "svc-db", "svc-db", "0440");
  await nixsealOk(repo, ["deploy", "verify1", "--secrets-only", "--ssh-key", h.operatorKeyPath]);
}, 180_000);
afterAll(async () => {
  await h?.stop();
  await repo?.cleanup();
});

/** nixseal verify; with --yes the machine reboots itself and the harness, as its hardware, boots it again. */
async function verify(extra: string[] = [], boot: { allowDegraded?: boolean } = {}) {
  const back = extra.includes("--yes") ? h.followReboot(boot) : undefined;
  const r = await nixseal(repo, ["verify", "verify1", "--ssh-key", h.operatorKeyPath, "--timeout", "120", ...extra]);
  await back;
  return r;
}

describe("nixseal verify HOST", () => {
  it("refuses to reboot without --yes when it cannot ask, and changes nothing", async () => {
    const boot = h.bootId;
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not rebooting verify1 without confirmation \(no terminal\)/);
    expect(r.stderr).toMatch(/hint: run again with --yes/);
    expect((await h.exec("cat /proc/sys/kernel/random/boot_id")).stdout.trim()).toBe(boot);
  });

  it("passes on a healthy host: reboots it, every secret is back before app.service, and says how long the restore took", async () => {
    const before = (await h.exec("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
    const r = await verify(["--yes"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const after = (await h.exec("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
    expect(after).not.toBe(before);
    expect(r.stderr).toMatch(new RegExp(`verify1 is back after [0-9.]+ s \\(boot ${after}\\)`));
    // no --group: svc-app's primary group, shown as chown writes it
    expect(r.stdout).toMatch(/^ok {4}app-token {2}svc-app: 0400 {2}content matches generation \d+$/m);
    expect(r.stdout).toMatch(/^ok {4}db-pass {2}svc-db:svc-db 0440 {2}content matches/m);
    expect(r.stdout).toMatch(/^ok {4}app\.service {2}started after its keys$/m);
    expect(r.stderr).toMatch(/the boot restore took \d+ ms for 2 secrets/);
    expect(r.stderr).toMatch(/verified verify1: every secret of generation \d+ is back, before the units that use it/);
    // The value never reached the operator's terminal.
    expect(r.stdout + r.stderr).not.toMatch(/app-token-value|db-pass-value/);
    // --no-reboot checks the same on the running host, in JSON too.
    const j = await verify(["--no-reboot", "--json"]);
    expect(j.code, j.stderr).toBe(0);
    const report = JSON.parse(j.stdout).report;
    expect(report.bootId).toBe(after);
    expect(report.restore).toMatchObject({ sameBoot: true, ok: true, failed: 0 });
    expect(report.secrets.map((s: { name: string; ok: boolean }) => [s.name, s.ok])).toEqual([["app-token", true], ["db-pass", true]]);
  });

  it("fails, naming the secret, when its owner was removed on the host", async () => {
    await h.exec("userdel svc-db");
    try {
      // The restore reports the secret it could not restore and fails: the boot ends degraded.
      const r = await verify(["--yes"], { allowDegraded: true });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^FAIL {2}db-pass: .*svc-db.*; missing: \/run\/nixseal\/current\/db-pass does not exist/m);
      expect(r.stdout).toMatch(/^ok {4}app-token/m);
      expect(r.stderr).toMatch(/error: verify1 did not pass: db-pass \[NIXSEAL_ERR_VERIFY_FAILED\]$/m);
    } finally {
      await h.exec("useradd --system --no-create-home --shell /usr/sbin/nologin svc-db");
    }
  });

  it("fails, naming the unit, when a consumer started before its key", async () => {
    // the unit first: a deploy without a config refuses a secret whose unit the host lacks
    await h.writeFile(unit("early.service", EARLY), EARLY);
    await h.exec("systemctl daemon-reload && systemctl enable early.service");
    await nixsealOk(repo, ["secrets", "add", "early-key", "--host", "verify1", "--restart-unit", "early.service"], { stdin: "early-value" });
    await nixsealOk(repo, ["deploy", "verify1", "--secrets-only", "--ssh-key", h.operatorKeyPath]);
    const r = await verify(["--yes"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}early\.service: started [0-9.]+ ms before the restore of early-key finished$/m);
    expect(r.stdout).toMatch(/^ok {4}app\.service {2}started after its keys$/m);
    expect(r.stdout).toMatch(/^ok {4}early-key /m);
    expect(r.stderr).toMatch(/error: verify1 did not pass: early\.service/);
  });
});

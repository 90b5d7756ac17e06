// Deploy faults on a real test host. After each, the host must still run its previous
// config (/etc/nixos and what the stand-in last "switched" to) and its previous secrets,
// and the report must say what happened. The rebuild is the nixos-rebuild stand-in.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFile, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import {
  addHost,
  addSecret,
  grepTree,
  hostFile,
  NIXSEAL_BIN,
  newRepo,
  nixseal,
  nixsealOk,
  prepareHost,
  standinRuns,
  summary,
  writeConfig,
  type CliRun,
  type TestRepo,
} from "./fixtures/deploy-env.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const value = (label: string) => `${label}-${randomBytes(12).toString("hex")}`;

describe("deploy faults leave the host on its previous config and secrets", () => {
  let repo: TestRepo;
  let h: TestHost;
  const values: string[] = [];
  const outputs: string[] = [];
  let goodConfig = "";
  let goodToken = "";

  /** The host runs goodConfig and goodToken, untouched by the failed deploy. */
  async function expectPrevious(): Promise<void> {
    expect(hostFile(h, "/etc/nixos/configuration.nix")).toBe(goodConfig);
    expect(hostFile(h, "/var/lib/nixos-rebuild-standin/system/configuration.nix")).toBe(goodConfig);
    expect((await h.exec("cat /run/keys/token")).stdout).toBe(goodToken);
    expect((await h.exec("stat -L -c '%U %a' /run/keys/token")).stdout.trim()).toBe("svc 400");
    expect((await h.exec("ls -A /var/lib/nixseal/staging 2>/dev/null || true")).stdout.trim()).toBe("");
  }
  /** Changes config and secret in the repo, as the next (failing) deploy would ship. */
  async function nextChange(label: string, extraConfig = ""): Promise<void> {
    await writeConfig(repo, h.name, label, extraConfig ? { "extra.nix": extraConfig } : {});
    const v = value(`token-${label.replace(/\W/g, "")}`);
    values.push(v);
    await nixsealOk(repo, ["secrets", "rotate", "token"], { stdin: v });
  }
  async function deploy(args: string[] = []): Promise<CliRun> {
    const r = await nixseal(repo, ["deploy", h.name, "--json", ...args]);
    outputs.push(r.stdout, r.stderr);
    return r;
  }

  beforeAll(async () => {
    repo = await newRepo();
    h = await bootHost("fault1");
    await prepareHost(h, ["svc"]);
    await addHost(repo, h);
    goodConfig = await writeConfig(repo, h.name, "good");
    goodToken = value("token-good");
    values.push(goodToken);
    await addSecret(repo, "token", [h.name], goodToken, "svc", "svc", "0400");
    const r = await deploy();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectPrevious();
  });
  afterAll(async () => {
    await h?.stop();
    await repo?.cleanup();
  });

  it("the rebuild fails: previous /etc/nixos and secrets back, rebuilt on the previous config", async () => {
    await nextChange("breaks the build", "NIXOS_REBUILD_STANDIN_FAIL\n");
    const r = await deploy();
    expect(r.code).toBe(1);
    const host = summary(r).hosts[0]!;
    expect(host).toMatchObject({ ok: false, outcome: "rolled-back", restored: { config: "restored", secrets: "restored", rebuild: "ok" } });
    expect(host.error?.code).toBe("NIXSEAL_ERR_DEPLOY_REBUILD");
    expect(host.error?.message).toMatch(/rebuild failed.*\n.*NIXOS_REBUILD_STANDIN_FAIL/s);
    const runs = standinRuns(h);
    expect(runs.at(-2)!.result).toMatch(/^fail/);
    expect(runs.at(-2)!.files.has("extra.nix")).toBe(true);
    expect(runs.at(-1)!.result).toBe("ok");
    expect(runs.at(-1)!.files.get("configuration.nix")).toBe(sha256(goodConfig));
    await expectPrevious();
    // config and secrets agree on what "previous" is now: the failed attempt
    expect(hostFile(h, "/var/lib/nixseal/config/previous/configuration.nix")).toContain("breaks the build");
    expect(hostFile(h, "/var/lib/nixseal/config/previous/extra.nix")).toBe("NIXOS_REBUILD_STANDIN_FAIL\n");
  });

  it("the SSH connection drops during upload: nothing installed, the lock is released", async () => {
    await nextChange("dropped upload");
    // a large (non-secret) file so the upload takes a while
    await writeFile(join(repo.dir, "hosts", h.name, "big.bin"), randomBytes(96 * 1024 * 1024));
    // on the host: once the upload has begun, kill every sshd session process (the deploy's)
    const killer = h.exec(
      "i=0; until ls /var/lib/nixseal/staging/*/config/* >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 3000 ] || exit 7; sleep 0.01; done; pkill -KILL -f '^sshd: root@notty'",
      { check: false, timeoutMs: 60_000 },
    );
    const r = await deploy();
    expect((await killer).code).toBe(0);
    expect(r.code).toBe(1);
    const host = summary(r).hosts[0]!;
    expect(host.ok).toBe(false);
    expect(host.error?.code).toMatch(/NIXSEAL_ERR_DEPLOY_(UPLOAD|CONNECT)/);
    expect(host.restored).toMatchObject({ config: "untouched", secrets: "untouched" });
    // the lock dies with the session: wait on that condition
    await h.waitFor(async () => (await h.exec("flock -n /var/lib/nixseal/deploy.lock true", { check: false })).code === 0, 15_000, "deploy lock released");
    expect(hostFile(h, "/etc/nixos/configuration.nix")).toBe(goodConfig);
    expect((await h.exec("cat /run/keys/token")).stdout).toBe(goodToken);
    await rm(join(repo.dir, "hosts", h.name, "big.bin"));
    // the leftover staging dir is cleared by the next deploy (here: the next test's)
  });

  it("a secret the host cannot decrypt: stopped at stage, nothing changed", async () => {
    await nextChange("undecryptable");
    // a blob encrypted to some other machine's key, in place of the host's
    const other = join(repo.dir, "..", "other_ed25519");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const otherPub = (await readFile(`${other}.pub`, "utf8")).trim();
    await nixsealOk(repo, ["host", "add", "elsewhere", "--target", "root@127.0.0.1:1", "--key", otherPub]);
    await addSecret(repo, "elsewhere-only", ["elsewhere"], value("elsewhere"), "root");
    const token = join(repo.dir, "secrets", "token.age");
    const saved = join(repo.dir, "..", "token.age.saved");
    await copyFile(token, saved);
    await copyFile(join(repo.dir, "secrets", "elsewhere-only.age"), token);
    try {
      const r = await deploy();
      expect(r.code).toBe(1);
      const host = summary(r).hosts[0]!;
      expect(host.restored).toMatchObject({ config: "untouched", secrets: "untouched" });
      expect(host.error?.message).toMatch(/the agent refused to stage the bundle/);
      expect(host.error?.message).toMatch(/token/);
      expect(host.error?.message).toMatch(/decrypt/i);
      await expectPrevious();
    } finally {
      await copyFile(saved, token);
      await nixsealOk(repo, ["secrets", "rm", "elsewhere-only"]);
      await nixsealOk(repo, ["host", "rm", "elsewhere"]);
    }
  });

  it("an owner that does not exist on the host: stopped at stage, nothing changed", async () => {
    await nextChange("unknown owner");
    await addSecret(repo, "orphan", [h.name], value("orphan"), "nosuchuser", "nosuchuser");
    try {
      const r = await deploy();
      expect(r.code).toBe(1);
      const host = summary(r).hosts[0]!;
      expect(host.restored).toMatchObject({ config: "untouched", secrets: "untouched" });
      expect(host.error?.message).toMatch(/the agent refused to stage the bundle: .*nosuchuser/);
      await expectPrevious();
      expect((await h.exec("test -e /run/keys/orphan", { check: false })).code).not.toBe(0);
    } finally {
      await nixsealOk(repo, ["secrets", "rm", "orphan"]);
    }
  });

  it("the host key changed: refused in the handshake, nothing uploaded", async () => {
    await nextChange("host key changed");
    // the host gets a new ed25519 host key (reinstalled, or someone else answers there)
    await h.exec("cp -a /etc/ssh/ssh_host_ed25519_key /root/saved_key && cp -a /etc/ssh/ssh_host_ed25519_key.pub /root/saved_key.pub");
    await h.exec("rm /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh");
    const sshUp = async () => (await h.exec("systemctl is-active ssh", { check: false })).code === 0;
    await h.waitFor(sshUp, 20_000, "sshd with its new key");
    const holderBefore = hostFile(h, "/var/lib/nixseal/deploy.lock.holder");
    const stagingBefore = (await h.exec("ls -A /var/lib/nixseal/staging")).stdout;
    try {
      const r = await deploy();
      expect(r.code).toBe(1);
      const host = summary(r).hosts[0]!;
      expect(host.error?.code).toBe("NIXSEAL_ERR_DEPLOY_HOST_KEY");
      expect(host.error?.message).toMatch(/presented host key SHA256:.*but nixseal\.json pins SHA256:/);
      expect(JSON.stringify(host.error)).toMatch(/nixseal host set-key fault1/);
      expect(host.restored).toMatchObject({ config: "untouched", secrets: "untouched" });
      // nothing arrived: no lock taken, no staging dir made
      expect(hostFile(h, "/var/lib/nixseal/deploy.lock.holder")).toBe(holderBefore);
      expect((await h.exec("ls -A /var/lib/nixseal/staging")).stdout).toBe(stagingBefore);
      await expectPrevious();
    } finally {
      await h.exec("mv /root/saved_key /etc/ssh/ssh_host_ed25519_key && mv /root/saved_key.pub /etc/ssh/ssh_host_ed25519_key.pub && systemctl restart ssh");
      await h.waitFor(sshUp, 20_000, "sshd with its old key");
    }
  });

  it("a second deploy while one runs: refused at once, or waits with --wait and says so", async () => {
    await nextChange("concurrent");
    // the first deploy's rebuild waits for /tmp/go on the host, so it holds the lock
    const file = join(repo.dir, "nixseal.json");
    const original = await readFile(file, "utf8");
    const json = JSON.parse(original);
    json.hosts[h.name].rebuild = "until [ -e /tmp/go ]; do sleep 0.05; done; nixos-rebuild switch";
    await writeFile(file, JSON.stringify(json, null, 2) + "\n");
    await h.exec("rm -f /tmp/go");
    try {
      const first = nixseal(repo, ["deploy", h.name, "--json"]);
      await h.waitFor(async () => (await h.exec("pgrep -f 'until \\[ -e /tmp/go' >/dev/null", { check: false })).code === 0, 60_000, "first deploy in its rebuild");

      const refused = await deploy();
      expect(refused.code).toBe(1);
      const rh = summary(refused).hosts[0]!;
      expect(rh.error?.code).toBe("NIXSEAL_ERR_DEPLOY_LOCKED");
      expect(rh.error?.message).toMatch(/locked by another deploy \(nixseal deploy by .*\): refused without waiting/);
      expect(rh.restored).toMatchObject({ config: "untouched", secrets: "untouched" });

      let waitingSaid = "";
      const waiter = nixseal(repo, ["deploy", h.name, "--wait", "120"], { onStderr: (s) => (waitingSaid += s) });
      await h.waitFor(() => /waiting up to 120s for the deploy lock held by nixseal deploy by/.test(waitingSaid), 30_000, "the waiting deploy to say so");
      await h.exec("touch /tmp/go");
      const [a, b] = await Promise.all([first, waiter]);
      outputs.push(a.stdout, a.stderr, b.stdout, b.stderr);
      expect(a.code, a.stdout + a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      expect(hostFile(h, "/etc/nixos/configuration.nix")).toContain("concurrent");
      goodConfig = hostFile(h, "/etc/nixos/configuration.nix")!;
      goodToken = values.at(-1)!;
      expect((await h.exec("cat /run/keys/token")).stdout).toBe(goodToken);
    } finally {
      await writeFile(file, original);
      await h.exec("rm -f /tmp/go");
    }
  });

  it("the SSH connection drops during the rebuild: deploy reconnects and puts back config and secrets", async () => {
    await nextChange("dropped during rebuild");
    const file = join(repo.dir, "nixseal.json");
    const original = await readFile(file, "utf8");
    const json = JSON.parse(original);
    json.hosts[h.name].rebuild = "until [ -e /tmp/go ]; do sleep 0.05; done; nixos-rebuild switch";
    await writeFile(file, JSON.stringify(json, null, 2) + "\n");
    await h.exec("rm -f /tmp/go");
    try {
      const running = deploy();
      await h.waitFor(async () => (await h.exec("pgrep -f 'until \\[ -e /tmp/go' >/dev/null", { check: false })).code === 0, 60_000, "the deploy's rebuild to start");
      // config and secrets are switched by now; cut the deploy's SSH session on the host
      expect(hostFile(h, "/etc/nixos/configuration.nix")).toContain("dropped during rebuild");
      await h.exec("pkill -KILL -f '^sshd: root@notty'");
      await h.exec("touch /tmp/go"); // the orphaned rebuild may now end; deploy waits for it
      const r = await running;
      expect(r.code).toBe(1);
      const host = summary(r).hosts[0]! as ReturnType<typeof summary>["hosts"][number] & { steps: { step: string }[] };
      expect(host.error?.code).toBe("NIXSEAL_ERR_DEPLOY_CONNECT");
      expect(host.steps.map((x) => x.step)).toContain("reconnect");
      expect(host).toMatchObject({ outcome: "rolled-back", restored: { config: "restored", secrets: "restored", rebuild: "ok" } });
      await expectPrevious();
      expect(await h.waitFor(async () => (await h.exec("flock -n /var/lib/nixseal/deploy.lock true", { check: false })).code === 0, 15_000, "lock free")).toBe(true);
    } finally {
      await writeFile(file, original);
      await h.exec("rm -f /tmp/go");
    }
  });

  it("no secret value on the host's disk, in the repo, or in any deploy output", async () => {
    for (const v of values) {
      for (const o of outputs) expect(o.includes(v)).toBe(false);
      expect(await grepTree(repo.dir, v)).toEqual([]);
      expect(await grepTree(h.upperDir, v)).toEqual([]);
    }
    const logs = (await h.exec("journalctl --no-pager -o cat 2>/dev/null; ps -eo args")).stdout;
    expect(logs).toMatch(/nixseal/);
    for (const v of values) expect(logs.includes(v)).toBe(false);
    expect(NIXSEAL_BIN).toMatch(/dist\/cli\/bin\.js$/);
  });
});

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: "ignore" });
    c.on("error", reject);
    c.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

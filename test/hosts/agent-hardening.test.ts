// Hardening on a real systemd host: the agent's units dump no core and a crash of the
// agent leaves none; a current generation that no longer fits the memory filesystem
// after a reboot gives way to the previous one, before the services that need the keys.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import { addSecret, nixsealOk, type TestRepo } from "./fixtures/deploy-env.js";
import { addAccounts, agentGet, installKeyReader, installWithBundle, readsOfBoot } from "./agent-support.js";

const value = (label: string) => `${label}-${randomBytes(16).toString("hex")}`;
const appKey = value("hard-app");

describe("agent hardening on a real systemd host", () => {
  let h: TestHost;
  let repo: TestRepo | undefined;

  beforeAll(async () => {
    h = await bootHost("agenthard");
    await addAccounts(h, ["nxs-app"]);
    repo = await installWithBundle(h, [{ name: "app-key", value: appKey, owner: "nxs-app", group: "nxs-app", mode: "0400" }]);
    await installKeyReader(h, "nxs-app", "app-key", ["app-key"]);
  });
  afterAll(async () => {
    await h?.stop();
    await repo?.cleanup();
  });

  it("the units set LimitCORE=0; the running agent can dump no memory, and a crash leaves no core file", async () => {
    expect((await h.exec("systemctl show -P LimitCORE nixseal-restore.service nixseal-agent.service")).stdout.split("\n").filter(Boolean)).toEqual(["0", "0"]);
    expect((await agentGet(h, "/health")).status).toBe(200); // socket activation starts it
    const pid = (await h.exec("systemctl show -P MainPID nixseal-agent.service")).stdout.trim();
    expect(Number(pid)).toBeGreaterThan(0);
    expect((await h.exec(`grep 'Max core file size' /proc/${pid}/limits`)).stdout).toMatch(/Max core file size\s+0\s+0\s/);
    expect((await h.exec(`cat /proc/${pid}/coredump_filter`)).stdout.trim()).toBe("00000000");
    const cwd = (await h.exec(`readlink /proc/${pid}/cwd`)).stdout.trim();
    await h.exec(`kill -ABRT ${pid}`);
    await h.waitFor(async () => (await h.exec(`test -e /proc/${pid}`, { check: false })).code !== 0, 15_000, "the agent to die");
    expect((await h.exec(`ls -A ${cwd} | grep -c '^core' || true`)).stdout.trim()).toBe("0");
    expect((await h.exec("journalctl --no-pager -o cat -u nixseal-agent.service")).stdout).not.toContain(appKey);
    // the socket stays: the next request starts a fresh agent
    expect((await agentGet(h, "/health")).status).toBe(200);
  });

  it("after a reboot onto a smaller memory filesystem, a current generation that no longer fits gives way to the previous one", async () => {
    const big = value("hard-big") + "B".repeat(300_000);
    await addSecret(repo!, "big", [h.name], big);
    const out = join(await mkdtemp(join(tmpdir(), "nixseal-hardening-")), "bundle");
    try {
      await nixsealOk(repo!, ["bundle", h.name, "--out", out]);
      for (const f of await readdir(out)) await h.writeFile(`/root/bundle2/${f}`, await readFile(join(out, f)), 0o600);
    } finally {
      await rm(join(out, ".."), { recursive: true, force: true });
    }
    await h.exec("nixseal-agent import /root/bundle2");
    expect((await h.exec("readlink /var/lib/nixseal/current")).stdout.trim()).toBe("generations/2");
    await h.writeFile("/etc/systemd/system/run-nixseal.mount.d/size.conf", "[Mount]\nOptions=mode=0751,noswap,nodev,nosuid,noexec,size=200k\n");
    await h.reboot({ allowDegraded: true });
    expect((await h.exec("systemctl is-failed nixseal-restore.service", { check: false })).stdout.trim()).toBe("failed");
    const log = (await h.exec("journalctl -b -u nixseal-restore.service --no-pager -o cat")).stdout;
    expect(log).toMatch(/error: current generation 2 is unusable \(.*is full: generation 2 does not fit.*\); restored previous generation 1/);
    expect(log).toContain("restored generation 1: 1 of 1 secrets");
    expect(log).not.toContain(appKey);
    // the previous generation is served, before the service that needs it
    const reads = await readsOfBoot(h, h.bootId);
    expect(reads.get("app-key")?.stat).toBe("nxs-app:nxs-app:400");
    expect((await h.exec("systemctl is-active nixseal-secrets.target keyreader.service")).stdout.split("\n").filter(Boolean)).toEqual(["active", "active"]);
    expect((await h.exec("test -e /run/keys/big", { check: false })).code).not.toBe(0);
    const status = await h.exec("nixseal-agent status", { check: false });
    expect(status.code).toBe(1);
    expect(status.stdout).toContain("current 2, previous 1, live in /run/nixseal/1");
    expect((await h.exec("grep -rl hard-big /run /var/lib/nixseal || true")).stdout.trim()).toBe("");
  });

  it("a bad identity file among several is named in a warning in the journal, with what to do", async () => {
    await h.writeFile("/etc/nixseal/garbage-key", "this is not a key\n", 0o600);
    await h.writeFile("/etc/nixseal/agent.json", JSON.stringify({ identityPaths: ["/etc/ssh/ssh_host_ed25519_key", "/etc/nixseal/garbage-key"] }) + "\n", 0o644);
    try {
      await h.exec("systemctl restart nixseal-restore.service", { check: false });
      const invocation = (await h.exec("systemctl show -P InvocationID nixseal-restore.service")).stdout.trim();
      expect(invocation).not.toBe("");
      const log = (await h.exec(`journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID=${invocation}`)).stdout;
      expect(log).toMatch(/warning: identity file \/etc\/nixseal\/garbage-key:1: not an identity .*; skipped it and used the others: fix the file or remove it from identityPaths/);
      expect(log).toContain("restored generation"); // the good key was used
      expect(log).not.toContain(appKey);
    } finally {
      await h.exec("rm -f /etc/nixseal/agent.json /etc/nixseal/garbage-key");
    }
  });
});

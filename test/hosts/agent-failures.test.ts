// Failures on a real systemd host: a secret whose owner is gone at boot (the others
// restored; the unit and status say which and why; services still start), a corrupt
// bundle (the previous generation stays active), and the API over its root-only socket.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import type { TestRepo } from "./fixtures/deploy-env.js";
import { addAccounts, agentGet, installKeyReader, installWithBundle, readsOfBoot, type AgentSecret } from "./agent-support.js";

const value = (label: string) => `${label}-${randomBytes(16).toString("hex")}`;
const secrets: AgentSecret[] = [
  { name: "app-key", value: value("app-key"), owner: "nxs-app", group: "nxs-app", mode: "0400" },
  { name: "shared", value: value("shared"), owner: "root", group: "nxs-app", mode: "0440" },
  { name: "orphan", value: value("orphan"), owner: "nxs-leaving", group: "root", mode: "0400" },
];

describe("nixseal-agent failures on a real systemd host", () => {
  let h: TestHost;
  let repo: TestRepo | undefined;

  beforeAll(async () => {
    h = await bootHost("agentfail");
    await addAccounts(h, ["nxs-app", "nxs-leaving"]);
    repo = await installWithBundle(h, secrets);
    await installKeyReader(h, "nxs-app", "app-key", ["app-key", "shared"]);
  });
  afterAll(async () => {
    await h?.stop();
    await repo?.cleanup();
  });

  it("the socket is root-only: dir 0700, socket 0600, no TCP port", async () => {
    expect((await h.exec("stat -c '%U %a' /run/nixseal-agent /run/nixseal-agent/agent.sock")).stdout.trim().split("\n")).toEqual(["root 700", "root 600"]);
    expect((await agentGet(h, "/health")).status).toBe(200); // starts the agent (socket-activated)
    const pid = (await h.exec("systemctl show -P MainPID nixseal-agent.service")).stdout.trim();
    expect(Number(pid)).toBeGreaterThan(0);
    const inodes = (await h.exec(`ls -l /proc/${pid}/fd | grep -o 'socket:\\[[0-9]*\\]' | tr -dc '0-9\\n'`)).stdout.split("\n").filter(Boolean);
    expect(inodes.length).toBeGreaterThan(0);
    const tcp = (await h.exec(`cat /proc/${pid}/net/tcp /proc/${pid}/net/tcp6 /proc/net/tcp /proc/net/tcp6 | awk '{print $10}'`)).stdout.split("\n");
    // the listening socket is systemd's (nixseal-agent.socket), made in the host's network namespace
    const unix = (await h.exec(`cat /proc/${pid}/net/unix /proc/1/net/unix`)).stdout;
    for (const i of inodes) expect(tcp, `socket ${i} of the agent is not TCP`).not.toContain(i);
    expect(unix).toMatch(new RegExp(`\\b(${inodes.join("|")})\\b.*/run/nixseal-agent/agent.sock`));
    expect((await agentGet(h, "/health")).status).toBe(200);
  });

  it("an owner removed before a reboot: the others restored, the unit and status name the secret and why, services start", async () => {
    await h.exec("userdel nxs-leaving");
    await h.reboot({ allowDegraded: true });
    expect(h.state).toBe("degraded");
    expect((await h.exec("systemctl is-failed nixseal-restore.service", { check: false })).stdout.trim()).toBe("failed");
    const unitLog = (await h.exec("journalctl -b -u nixseal-restore.service --no-pager -o cat")).stdout;
    expect(unitLog).toContain("restored generation 1: 2 of 3 secrets");
    expect(unitLog).toContain("error: secret 'orphan': user 'nxs-leaving' does not exist on this host");
    const unitStatus = (await h.exec("systemctl status --no-pager -l nixseal-restore.service", { check: false })).stdout;
    expect(unitStatus).toMatch(/status=1\/FAILURE/);
    expect(unitStatus).toContain("secret 'orphan'");
    const status = await h.exec("nixseal-agent status", { check: false });
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/orphan .*FAILED/);
    expect(status.stdout).toContain("user 'nxs-leaving' does not exist");
    expect(status.stdout).toMatch(/app-key .*ok/);
    // the target was reached and the service that needs app-key started with it
    expect((await h.exec("systemctl is-active nixseal-secrets.target keyreader.service")).stdout.split("\n").filter(Boolean)).toEqual(["active", "active"]);
    const reads = await readsOfBoot(h, h.bootId);
    expect(reads.get("app-key")?.stat).toBe("nxs-app:nxs-app:400");
    expect(reads.get("shared")?.stat).toBe("root:nxs-app:440");
    expect((await h.exec("test -e /run/keys/orphan", { check: false })).code).not.toBe(0);
    const api = JSON.parse((await agentGet(h, "/status")).body);
    expect(api.secrets.find((s: { name: string }) => s.name === "orphan")).toMatchObject({ ok: false, code: "NIXSEAL_ERR_AGENT_UNKNOWN_OWNER" });
    const metrics = (await agentGet(h, "/metrics")).body;
    expect(metrics).toContain('nixseal_agent_secret_ok{name="orphan"} 0');
    expect(metrics).toContain("nixseal_agent_secrets_failed 1");
  });

  it("a corrupt bundle is refused and the previous generation stays active", async () => {
    const before = (await h.exec("sha256sum /run/keys/shared && readlink /run/nixseal/current")).stdout;
    await h.exec("rm -rf /root/bad && cp -r /root/bundle /root/bad && printf 'garbage' | dd of=/root/bad/shared.age bs=1 seek=40 conv=notrunc 2>/dev/null");
    const r = await h.exec("nixseal-agent import /root/bad", { check: false });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("shared.age does not match its sha256");
    expect((await h.exec("sha256sum /run/keys/shared && readlink /run/nixseal/current")).stdout).toBe(before);
    expect((await h.exec("readlink /var/lib/nixseal/current")).stdout.trim()).toBe("generations/1");
  });
});

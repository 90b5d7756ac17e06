// On a real systemd host: the agent and a bundle of 3 secrets with
// different owners/modes (nixseal bundle -> nixseal-agent import), a service that needs
// its key at start, then 20 reboots (10 clean, 10 power cuts) with no operator action:
// every time, every secret is back, with its owner/group/mode, before the service
// starts. Then the plaintext is looked for on disk, in the journal, in API replies and
// in process arguments and environments (never found).
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import { grepTree, type TestRepo } from "./fixtures/deploy-env.js";
import { addAccounts, agentGet, installKeyReader, installWithBundle, readsOfBoot, type AgentSecret } from "./agent-support.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const value = (label: string) => `${label}-${randomBytes(16).toString("hex")}`;

const secrets: AgentSecret[] = [
  { name: "web-token", value: value("web-token"), owner: "nxs-web", group: "nxs-web", mode: "0400" },
  { name: "db-password", value: value("db-password"), owner: "nxs-db", group: "nxs-ops", mode: "0440" },
  { name: "tls-key", value: value("tls-key"), owner: "root", group: "nxs-ops", mode: "0640" },
];
const expectedStat: Record<string, string> = { "web-token": "nxs-web:nxs-web:400", "db-password": "nxs-db:nxs-ops:440", "tls-key": "root:nxs-ops:640" };

describe("nixseal-agent on a real systemd host", () => {
  let h: TestHost;
  let repo: TestRepo | undefined;
  const bootLog: string[] = [];

  beforeAll(async () => {
    h = await bootHost("agentboot");
    await addAccounts(h, ["nxs-web", "nxs-db"], ["nxs-ops"]);
    repo = await installWithBundle(h, secrets);
    await installKeyReader(h, "nxs-web", "web-token", secrets.map((s) => s.name));
    await h.reboot();
  });
  afterAll(async () => {
    await h?.stop();
    await repo?.cleanup();
  });

  /** Checks one boot; a failure carries the boot's agent journal, to tell why. */
  async function checkBoot(kind: string): Promise<void> {
    try {
      await checkBootOnce(kind);
    } catch (err) {
      const log = (await h.exec("journalctl -b --no-pager -o short-monotonic -u nixseal-restore -u keyreader -u nixseal-agent | tail -n 40", { check: false })).stdout;
      (err as Error).message += `\n--- ${kind}: journal of this boot ---\n${log}`;
      throw err;
    }
  }

  /** Every key recorded by the service at its start, right hash and stat. */
  async function checkBootOnce(kind: string): Promise<void> {
    const reads = await readsOfBoot(h, h.bootId);
    for (const s of secrets) {
      expect(reads.get(s.name), `${kind}: ${s.name} at the service's start`).toEqual({ hash: sha256(s.value), stat: expectedStat[s.name] });
    }
    expect((await h.exec("systemctl is-active keyreader.service nixseal-restore.service nixseal-secrets.target nixseal-agent.socket")).stdout.split("\n").filter(Boolean)).toEqual(["active", "active", "active", "active"]);
    // the service, running as nxs-web, read its own key
    const own = (await h.exec("tail -n1 /var/lib/keyreader/own")).stdout.trim();
    expect(own).toBe(sha256(secrets[0]!.value));
    // and it started after the restore had finished
    const t = async (unit: string, prop: string) => Number((await h.exec(`systemctl show -P ${prop} ${unit}`)).stdout.trim());
    expect(await t("keyreader.service", "ExecMainStartTimestampMonotonic")).toBeGreaterThan(await t("nixseal-restore.service", "ExecMainExitTimestampMonotonic"));
    bootLog.push(`${kind} ok`);
  }

  it("after boot every file has its owner/group/mode and the service started with its key", async () => {
    await checkBoot("first boot");
    for (const s of secrets) {
      const st = (await h.exec(`stat -c '%U:%G:%a' /run/nixseal/current/${s.name}`)).stdout.trim();
      expect(st).toBe(expectedStat[s.name]);
    }
    expect((await h.exec("readlink /run/keys")).stdout.trim()).toBe("/run/nixseal/current");
    expect((await h.exec("findmnt -n -o FSTYPE,OPTIONS /run/nixseal")).stdout).toMatch(/^tmpfs .*noswap/);
  });

  it("20 reboots, 10 clean and 10 power cuts: all secrets back before the service starts, every time", async () => {
    for (let i = 0; i < 20; i++) {
      const kind = i % 2 === 0 ? `clean reboot ${i / 2 + 1}` : `power cut ${(i + 1) / 2}`;
      const before = h.bootId;
      if (i % 2 === 0) await h.reboot();
      else await h.powerCut();
      expect(h.bootId).not.toBe(before);
      await checkBoot(kind);
    }
    expect(bootLog.filter((l) => l.startsWith("power cut")).length).toBe(10);
    expect(bootLog.filter((l) => l.startsWith("clean reboot")).length).toBe(10);
  });

  it("never puts a value on the disk, in the journal, in an API reply, in process arguments or environments", async () => {
    // process args and environments while the agent works: a poller inside the host
    // copies every /proc/*/cmdline and environ (into /tmp, a tmpfs) during an
    // activation and a restore
    await h.exec("rm -f /tmp/stop-poll /tmp/procs; (while [ ! -e /tmp/stop-poll ]; do cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null >> /tmp/procs; done) >/dev/null 2>&1 &");
    await h.exec("nixseal-agent rollback || true; nixseal-agent rollback || true; systemctl restart nixseal-restore.service");
    await h.exec("touch /tmp/stop-poll");
    const polled = Number((await h.exec("stat -c %s /tmp/procs")).stdout.trim());
    expect(polled).toBeGreaterThan(0);
    const replies: string[] = [];
    await h.waitFor(async () => (await h.exec("test -S /run/nixseal-agent/agent.sock", { check: false })).code === 0, 30_000, "agent socket");
    for (const path of ["/health", "/status", "/metrics", "/nope"]) replies.push((await agentGet(h, path)).body);
    expect(JSON.parse(replies[1]!).secrets).toHaveLength(3);
    const journal = (await h.exec("journalctl --no-pager -a -o verbose")).stdout;
    expect(journal).toContain("nixseal-agent");
    for (const s of secrets) {
      expect(await grepTree(h.upperDir, s.value), `${s.name} on the persistent disk`).toEqual([]);
      expect(journal.includes(s.value), `${s.name} in the journal`).toBe(false);
      for (const r of replies) expect(r.includes(s.value), `${s.name} in an API reply`).toBe(false);
      expect((await h.exec(`grep -caF -- '${s.value}' /tmp/procs || true`)).stdout.trim(), `${s.name} in argv/environ`).toBe("0");
      // the value is there where it belongs: proves the greps could find it
      expect((await h.exec(`grep -lF -- '${s.value}' /run/nixseal/current/${s.name}`)).stdout.trim()).toBe(`/run/nixseal/current/${s.name}`);
    }
  });
});

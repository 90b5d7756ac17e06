// The SSH layer of deploy against a real test host's sshd: the pinned host key (ed25519
// and rsa accepted, anything else refused before login), authentication errors, the
// remote lock (refuse, wait, and released by the kernel when the deployer is killed),
// and the agent channel (stream-local forwarding) when no agent listens.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NixsealError } from "../../core/index.js";
import { AgentClient } from "../../cli/deploy/agent-client.js";
import { takeLock } from "../../cli/deploy/lock.js";
import { connectHost } from "../../cli/deploy/ssh.js";
import { bootHost, type TestHost } from "./harness/index.js";

describe("deploy's SSH layer (real sshd)", () => {
  let h: TestHost;
  let tmp: string;
  const target = () => ({ user: "root", host: h.address, port: h.port });
  const env = () => ({ HOME: tmp });
  const connect = (hostKey: string, sshKey: string | undefined = h.operatorKeyPath) => connectHost({ hostName: h.name, target: target(), hostKey, sshKey, env: env() });
  const lockFree = async () => (await h.exec("flock -n /var/lib/nixseal/deploy.lock true", { check: false })).code === 0;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "nixseal-deploy-ssh-"));
    h = await bootHost("sshpin");
  });
  afterAll(async () => {
    await h?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("accepts the registered ed25519 key and the registered rsa key", async () => {
    for (const key of [h.hostKeys.ed25519Pub, h.hostKeys.rsaPub]) {
      const ssh = await connect(key);
      expect((await ssh.execCommand("hostname")).stdout.trim()).not.toBe("");
      ssh.dispose();
    }
  });

  it("refuses any other host key before logging in, naming both fingerprints and the way out", async () => {
    const dir = mkdtempSync(join(tmp, "k-"));
    await new Promise((r) => spawn("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "k")]).on("close", r));
    const other = readFileSync(join(dir, "k.pub"), "utf8");
    const authBefore = (await h.exec("journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey' || true")).stdout.trim();
    const err = (await connect(other).catch((e: unknown) => e)) as NixsealError;
    expect(err.code).toBe("NIXSEAL_ERR_DEPLOY_HOST_KEY");
    expect(err.message).toMatch(/presented host key SHA256:\S+, but nixseal\.json pins SHA256:\S+: refusing to connect/);
    expect(err.hints.join("\n")).toMatch(/nixseal host set-key sshpin/);
    // no login happened
    expect((await h.exec("journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey' || true")).stdout.trim()).toBe(authBefore);
  });

  it("says when there is nothing to log in with, or the key is not authorised", async () => {
    const none = (await connectHost({ hostName: h.name, target: target(), hostKey: h.hostKeys.ed25519Pub, env: env() }).catch((e: unknown) => e)) as NixsealError;
    expect(none.code).toBe("NIXSEAL_ERR_DEPLOY_AUTH");
    const dir = mkdtempSync(join(tmp, "op-"));
    await new Promise((r) => spawn("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]).on("close", r));
    const refused = (await connect(h.hostKeys.ed25519Pub, join(dir, "id")).catch((e: unknown) => e)) as NixsealError;
    expect(refused.code).toBe("NIXSEAL_ERR_DEPLOY_AUTH");
    expect(refused.message).toMatch(/ssh login as root refused/);
  });

  it("logs in through ssh-agent when SSH_AUTH_SOCK is set (no key file anywhere)", async () => {
    const sock = join(tmp, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      await h.waitFor(() => existsSync(sock), 10_000, "ssh-agent socket");
      await new Promise<void>((resolve, reject) =>
        spawn("ssh-add", ["-q", h.operatorKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" }).on("close", (c) => (c === 0 ? resolve() : reject(new Error(`ssh-add ${c}`)))),
      );
      const ssh = await connectHost({ hostName: h.name, target: target(), hostKey: h.hostKeys.ed25519Pub, env: { HOME: tmp, SSH_AUTH_SOCK: sock } });
      expect((await ssh.execCommand("id -u")).stdout.trim()).toBe("0");
      ssh.dispose();
    } finally {
      agent.kill("SIGTERM");
    }
  });

  it("a passphrase-protected key file: says to load it into ssh-agent", async () => {
    const dir = mkdtempSync(join(tmp, "pp-"));
    await new Promise((r) => spawn("ssh-keygen", ["-q", "-t", "ed25519", "-N", "correct horse", "-f", join(dir, "id")]).on("close", r));
    const err = (await connect(h.hostKeys.ed25519Pub, join(dir, "id")).catch((e: unknown) => e)) as NixsealError;
    expect(err.code).toBe("NIXSEAL_ERR_DEPLOY_AUTH");
    expect(err.message).toMatch(/passphrase-protected/);
    expect(err.hints.join(" ")).toMatch(/ssh-add/);
  });

  it("the lock: a second taker is refused with the holder named, or waits and then gets it", async () => {
    const a = await connect(h.hostKeys.ed25519Pub);
    const b = await connect(h.hostKeys.ed25519Pub);
    const la = await takeLock(a, h.name, 0);
    const refused = (await takeLock(b, h.name, 0).catch((e: unknown) => e)) as NixsealError;
    expect(refused.code).toBe("NIXSEAL_ERR_DEPLOY_LOCKED");
    expect(refused.message).toMatch(/locked by another deploy \(nixseal deploy by \S+ \(pid \d+\) since .*\): refused without waiting/);
    let waitingFor = "";
    const pending = takeLock(b, h.name, 30, (holder) => (waitingFor = holder));
    await h.waitFor(() => waitingFor !== "", 10_000, "the second taker to report waiting");
    expect(waitingFor).toMatch(/nixseal deploy by/);
    await la.release();
    const lb = await pending;
    expect(lb.waited).toBe(true);
    const timeout = (await takeLock(a, h.name, 1).catch((e: unknown) => e)) as NixsealError;
    expect(timeout.message).toMatch(/still locked by another deploy .* after waiting 1s/);
    await lb.release();
    expect(await lockFree()).toBe(true);
    a.dispose();
    b.dispose();
  });

  it("a login that cannot take the lock (not root) says why, instead of a vague drop", async () => {
    await h.exec("id deployer >/dev/null 2>&1 || useradd -m deployer; install -d -o deployer -m 0700 /home/deployer/.ssh; install -o deployer -m 0600 /root/.ssh/authorized_keys /home/deployer/.ssh/authorized_keys; install -d -m 0755 /var/lib/nixseal");
    const ssh = await connectHost({ hostName: h.name, target: { ...target(), user: "deployer" }, hostKey: h.hostKeys.ed25519Pub, sshKey: h.operatorKeyPath, env: env() });
    const err = (await takeLock(ssh, h.name, 0).catch((e: unknown) => e)) as NixsealError;
    expect(err.code).toBe("NIXSEAL_ERR_DEPLOY_LOCK_FAILED");
    expect(err.message).toMatch(/cannot take the deploy lock \/var\/lib\/nixseal\/deploy\.lock: .*(Permission denied|Operation not permitted)/);
    expect(err.hints.join(" ")).toMatch(/as root/);
    ssh.dispose();
  });

  it("the lock is released by the kernel when the deployer is killed", async () => {
    const script = `
      const { connectHost } = await import(${JSON.stringify(pathToFileURL(join(process.cwd(), "dist/cli/deploy/ssh.js")).href)});
      const { takeLock } = await import(${JSON.stringify(pathToFileURL(join(process.cwd(), "dist/cli/deploy/lock.js")).href)});
      const ssh = await connectHost(JSON.parse(process.argv[1]));
      await takeLock(ssh, "x", 0);
      process.stdout.write("LOCKED\\n");
      setInterval(() => {}, 1000);
    `;
    const opts = { hostName: h.name, target: target(), hostKey: h.hostKeys.ed25519Pub, sshKey: h.operatorKeyPath, env: env() };
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(opts)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await h.waitFor(() => out.includes("LOCKED"), 20_000, "the child to hold the lock");
    expect(await lockFree()).toBe(false);
    child.kill("SIGKILL");
    await h.waitFor(lockFree, 15_000, "the lock to be released after SIGKILL");
    expect(await lockFree()).toBe(true);
  });

  it("reaches the agent socket through the SSH connection, and says how to install it when absent", async () => {
    const ssh = await connect(h.hostKeys.ed25519Pub);
    await h.exec("systemctl stop nixseal-agent.socket nixseal-agent.service 2>/dev/null; rm -f /run/nixseal-agent/agent.sock; true");
    const err = (await new AgentClient(ssh, h.name).get("/health").catch((e: unknown) => e)) as NixsealError;
    expect(err.code).toBe("NIXSEAL_ERR_DEPLOY_AGENT");
    expect(err.hints.join(" ")).toMatch(/nixseal-agent install/);
    ssh.dispose();
  });
});

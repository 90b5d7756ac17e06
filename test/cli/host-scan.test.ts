// `host add --scan` and `host set-key --scan` against a real, throwaway sshd on
// loopback (own host keys and config in a temp dir; killed afterwards).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import { runNixseal, snapshotTree, testEnv } from "./harness.js";

let work: string;
let sshd: ChildProcess;
let port: number;
let hostPub: string;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const p = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return p;
}

/** Resolves once sshd logs that it listens (no sleeps), or rejects after a timeout. */
function waitListening(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`sshd did not start: ${log}`)), timeoutMs);
    child.stderr!.on("data", (c: Buffer) => {
      log += c.toString();
      if (/Server listening on 127\.0\.0\.1 port/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited ${code}: ${log}`));
    });
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "nixseal-scan-"));
  const keys = join(work, "sshd");
  mkdirSync(keys);
  mkdirSync("/run/sshd", { recursive: true }); // sshd's privilege separation dir
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(keys, "ssh_host_ed25519_key")]);
  hostPub = readFileSync(join(keys, "ssh_host_ed25519_key.pub"), "utf8").trim();
  const config = join(keys, "sshd_config");
  writeFileSync(config, `HostKey ${join(keys, "ssh_host_ed25519_key")}\nPidFile ${join(keys, "sshd.pid")}\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n`);
  port = await freePort();
  sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config, "-o", `ListenAddress=127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "pipe"] });
  await waitListening(sshd);
}, 30_000);

afterAll(async () => {
  if (sshd && sshd.exitCode === null) {
    const exited = new Promise((r) => sshd.once("exit", r));
    sshd.kill("SIGTERM");
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

function fingerprintOf(pub: string): string {
  const file = join(work, "fp.pub");
  writeFileSync(file, pub + "\n");
  return spawnSync("ssh-keygen", ["-l", "-f", file], { encoding: "utf8" }).stdout.split(" ")[1]!;
}

/** Runs main() with a pretend terminal whose keyboard types `answer`. */
async function runOnTty(argv: string[], cwd: string, answer: string) {
  const stdin = Object.assign(Readable.from([Buffer.from(answer)]), { isTTY: true });
  const stderr = Object.assign(new PassThrough(), { isTTY: true });
  const stdout = new PassThrough();
  let err = "";
  stderr.on("data", (c: Buffer) => (err += c.toString()));
  stdout.resume();
  const code = await main(argv, { stdin, stdout, stderr, env: { ...testEnv(cwd), NO_COLOR: "1" }, cwd });
  return { code, stderr: err };
}

describe("host add --scan", () => {
  it("reads the key the sshd offers, shows its fingerprint, and needs --yes or a yes without a terminal", async () => {
    const repo = join(work, "repo1");
    mkdirSync(repo);
    const env = testEnv(repo);
    expect((await runNixseal(["init"], { cwd: repo, env })).code).toBe(0);
    const before = snapshotTree(repo);

    const refused = await runNixseal(["host", "add", "web1", "--target", `root@127.0.0.1:${port}`, "--scan"], { cwd: repo, env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`offers ssh-ed25519 key ${fingerprintOf(hostPub)}`);
    expect(refused.stderr).toContain("error: not accepting a scanned host key without confirmation (no terminal)");
    expect(refused.stderr).toContain("--yes");
    expect(snapshotTree(repo)).toEqual(before);

    const no = await runOnTty(["host", "add", "web1", "--target", `root@127.0.0.1:${port}`, "--scan"], repo, "n\n");
    expect(no.code).toBe(1);
    expect(no.stderr).toContain(`is ${fingerprintOf(hostPub)} the host key of 127.0.0.1:${port}? [y/N]`);
    expect(snapshotTree(repo)).toEqual(before);

    const yes = await runOnTty(["host", "add", "web1", "--target", `root@127.0.0.1:${port}`, "--scan"], repo, "y\n");
    expect(yes.code).toBe(0);
    const repoJson = JSON.parse(readFileSync(join(repo, "nixseal.json"), "utf8"));
    expect(repoJson.hosts.web1.hostKey.split(" ").slice(0, 2)).toEqual(hostPub.split(" ").slice(0, 2));

    const scripted = await runNixseal(["host", "add", "web2", "--target", `root@127.0.0.1:${port}`, "--scan", "--yes"], { cwd: repo, env });
    expect(scripted.code).toBe(0);
    expect(scripted.stderr).toContain(`added host web2 (127.0.0.1:${port}, ${fingerprintOf(hostPub)})`);
  });

  it("host set-key --scan replaces a wrong key and re-encrypts the host's secrets to the real one", async () => {
    const repo = join(work, "repo2");
    mkdirSync(repo);
    const env = testEnv(repo);
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(repo, "old")]);
    await runNixseal(["init"], { cwd: repo, env });
    const oldPub = readFileSync(join(repo, "old.pub"), "utf8").trim();
    expect((await runNixseal(["host", "add", "web1", "--target", `root@127.0.0.1:${port}`, "--key", oldPub], { cwd: repo, env })).code).toBe(0);
    expect((await runNixseal(["secrets", "add", "api", "--host", "web1"], { cwd: repo, env, stdin: "scan-value" })).code).toBe(0);
    const hostKeyFile = join(work, "sshd", "ssh_host_ed25519_key");
    expect(spawnSync("age", ["-d", "-i", hostKeyFile, join(repo, "secrets/api.age")]).status).not.toBe(0);

    const r = await runNixseal(["host", "set-key", "web1", "--scan", "--yes"], { cwd: repo, env });
    expect(r.stderr).toContain("re-encrypted 1 secret");
    expect(r.code).toBe(0);
    const opened = spawnSync("age", ["-d", "-i", hostKeyFile, join(repo, "secrets/api.age")], { encoding: "utf8" });
    expect(opened.stdout).toBe("scan-value");
    expect(spawnSync("age", ["-d", "-i", join(repo, "old"), join(repo, "secrets/api.age")]).status).not.toBe(0);
  });

  it("says so when nothing answers", async () => {
    const repo = join(work, "repo3");
    mkdirSync(repo);
    const env = testEnv(repo);
    await runNixseal(["init"], { cwd: repo, env });
    const r = await runNixseal(["host", "add", "web1", "--target", `root@127.0.0.1:${await freePort()}`, "--scan", "--yes"], { cwd: repo, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: cannot read the host key of 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(r.stderr).toContain("hint: check that the host is up");
  });
});

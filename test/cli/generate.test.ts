// Generators beyond random bytes, each checked by a real peer: ssh-keygen derives the
// public key of the generated private key, `wg pubkey` that of the WireGuard key,
// mkpasswd/openssl passwd (libxcrypt, OpenSSL) recompute the sha512-crypt and bcrypt
// hashes from the generated password, htpasswd -v accepts the htpasswd line.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { age, sshKeygen, type KeyPair } from "../core/support.js";
import { runNixseal, testEnv, type RunResult } from "./harness.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-generate-"));
const repo = join(work, "repo");
const shm = mkdtempSync("/dev/shm/nixseal-generate-");
let host: KeyPair;
const outputs: RunResult[] = [];
const env = testEnv(repo);

async function run(argv: string[], stdin?: string): Promise<RunResult> {
  const r = await runNixseal(argv, { cwd: repo, env, stdin });
  outputs.push(r);
  return r;
}
async function ok(argv: string[], stdin?: string): Promise<RunResult> {
  const r = await run(argv, stdin);
  expect(r.code, r.stderr).toBe(0);
  return r;
}
const cat = async (name: string): Promise<string> => (await ok(["secrets", "cat", name])).stdout;
const json = () => JSON.parse(readFileSync(join(repo, "nixseal.json"), "utf8"));
/** Runs a peer with its input on stdin (never in argv). */
const peer = (cmd: string, args: string[], input: string) => spawnSync(cmd, args, { input, encoding: "utf8" });

beforeAll(async () => {
  spawnSync("mkdir", ["-p", repo]);
  host = sshKeygen(work, "web1", "ed25519");
  await ok(["init"]);
  await ok(["host", "add", "web1", "--target", "root@127.0.0.1", "--key", host.pub]);
}, 60_000);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(shm, { recursive: true, force: true });
});

describe("secrets add --generate KIND", () => {
  it("ssh-ed25519: an OpenSSH private key whose public key (ssh-keygen -y) is the one shown; rotate makes a new pair", async () => {
    const added = await ok(["secrets", "add", "deploy-key", "--host", "web1", "--generate", "ssh-ed25519", "--mode", "0400"]);
    const pub = added.stdout.trim();
    expect(pub).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ deploy-key$/);
    expect((await ok(["secrets", "show", "deploy-key", "--public"])).stdout.trim()).toBe(pub);
    const derive = async (): Promise<string> => {
      const f = join(shm, "k");
      writeFileSync(f, await cat("deploy-key"), { mode: 0o600 });
      const r = spawnSync("ssh-keygen", ["-y", "-f", f], { encoding: "utf8" });
      rmSync(f);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    expect((await cat("deploy-key")).startsWith("-----BEGIN OPENSSH PRIVATE KEY-----\n")).toBe(true);
    expect(await derive()).toBe(pub.split(" ").slice(0, 2).join(" ") + " deploy-key");
    expect(json().secrets["deploy-key"]).toMatchObject({ generate: { kind: "ssh-ed25519" }, public: pub });
    const rotated = (await ok(["secrets", "rotate", "deploy-key"])).stdout.trim();
    expect(rotated).not.toBe(pub);
    expect(await derive()).toBe(rotated);
    expect(json().secrets["deploy-key"].public).toBe(rotated);
    // The host opens it with its own key.
    expect(age(["-d", "-i", host.path], readFileSync(join(repo, "secrets", "deploy-key.age"))).stdout.toString()).toBe(await cat("deploy-key"));
  });

  it("wireguard: a clamped X25519 key as wg genkey writes it; wg pubkey of it is the public key shown", async () => {
    const pub = (await ok(["secrets", "add", "wg0.key", "--host", "web1", "--generate", "wireguard", "--owner", "systemd-network", "--mode", "0440", "--group", "systemd-network"])).stdout.trim();
    const priv = await cat("wg0.key");
    expect(priv).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    const raw = Buffer.from(priv, "base64");
    expect([raw[0]! & 7, raw[31]! & 0xc0]).toEqual([0, 0x40]);
    expect(peer("wg", ["pubkey"], priv).stdout.trim()).toBe(pub);
    expect((await ok(["secrets", "show", "wg0.key", "--public"])).stdout.trim()).toBe(pub);
    const again = (await ok(["secrets", "rotate", "wg0.key"])).stdout.trim();
    expect(again).not.toBe(pub);
    expect(peer("wg", ["pubkey"], await cat("wg0.key")).stdout.trim()).toBe(again);
  });

  it("sha512-crypt: the host gets the hash, the admins alone the password; mkpasswd and openssl recompute the hash", async () => {
    const added = await ok(["secrets", "add", "alice-hash", "--host", "web1", "--generate", "sha512-crypt"]);
    expect(added.stderr).toContain("its generated password is the admin-only secret alice-hash.password: nixseal secrets cat alice-hash.password");
    const check = async (): Promise<string> => {
      const hash = (await cat("alice-hash")).trimEnd();
      const m = /^\$6\$([./0-9A-Za-z]{16})\$[./0-9A-Za-z]{86}$/.exec(hash);
      expect(m, hash).not.toBeNull();
      const password = await cat("alice-hash.password");
      expect(password).toMatch(/^[A-Za-z0-9]{24}$/);
      expect(peer("mkpasswd", ["-m", "sha-512", "-S", m![1]!, "-s"], password).stdout.trim()).toBe(hash);
      expect(peer("openssl", ["passwd", "-6", "-salt", m![1]!, "-stdin"], password).stdout.trim()).toBe(hash);
      return password;
    };
    const first = await check();
    const pw = json().secrets["alice-hash.password"];
    expect(pw).toMatchObject({ hosts: [], version: 1 });
    // Encrypted to the admins only: the host's key does not open it.
    expect(age(["-d", "-i", host.path], readFileSync(join(repo, "secrets", "alice-hash.password.age"))).status).not.toBe(0);
    expect((await ok(["secrets", "show", "alice-hash"])).stdout).toContain("password: the admin-only secret alice-hash.password");
    const noPublic = await run(["secrets", "show", "alice-hash", "--public"]);
    expect([noPublic.code, noPublic.stderr]).toEqual([1, expect.stringMatching(/has no public half[\s\S]*hint: its generated password: nixseal secrets cat alice-hash\.password/)]);

    await ok(["secrets", "rotate", "alice-hash"]);
    expect(await check()).not.toBe(first);
    expect(json().secrets["alice-hash.password"].version).toBe(2);

    // The password changes with its hash, never alone, and never goes to a host.
    for (const argv of [["secrets", "rotate", "alice-hash.password"], ["secrets", "rm", "alice-hash.password"], ["secrets", "set", "alice-hash.password", "--add-host", "web1"]]) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(1);
      expect(r.stderr).toMatch(/alice-hash\.password is the generated password of alice-hash; it cannot be/);
    }
    // The bundle for the host carries the hash only.
    const b = await ok(["bundle", "web1", "--out", join(work, "bundle")]);
    expect(b.code).toBe(0);
    const names = JSON.parse(readFileSync(join(work, "bundle", "manifest.json"), "utf8")).secrets.map((s: { name: string }) => s.name);
    expect(names).toContain("alice-hash");
    expect(names).not.toContain("alice-hash.password");
  });

  it("bcrypt --htpasswd-user: an htpasswd line htpasswd -v accepts; the hash alone matches libxcrypt's", async () => {
    await ok(["secrets", "add", "htpasswd", "--host", "web1", "--generate", "bcrypt", "--htpasswd-user", "alice"]);
    const line = (await cat("htpasswd")).trimEnd();
    expect(line).toMatch(/^alice:\$2b\$12\$[./A-Za-z0-9]{53}$/);
    const password = await cat("htpasswd.password");
    const f = join(shm, "htpasswd");
    writeFileSync(f, line + "\n");
    expect(peer("htpasswd", ["-i", "-v", f, "alice"], password).status).toBe(0);
    expect(peer("htpasswd", ["-i", "-v", f, "alice"], password + "x").status).not.toBe(0);
    const hash = line.slice("alice:".length);
    expect(peer("mkpasswd", ["-m", "bcrypt", "-R", "12", "-S", hash.slice(7, 29), "-s"], password).stdout.trim()).toBe(hash);

    await ok(["secrets", "rm", "htpasswd"]);
    expect(Object.keys(json().secrets)).not.toContain("htpasswd.password");
  });

  it("bad generator options are refused before anything is written", async () => {
    for (const [argv, msg] of [
      [["--generate", "rsa"], /--generate wants a number of bytes from 1 to 4096 or one of ssh-ed25519, wireguard, bcrypt, sha512-crypt, not "rsa"/],
      [["--generate", "wireguard", "--encoding", "hex"], /--encoding goes with --generate BYTES/],
      [["--generate", "ssh-ed25519", "--htpasswd-user", "a"], /--htpasswd-user goes with --generate bcrypt or sha512-crypt/],
      [["--generate", "bcrypt", "--htpasswd-user", "a:b"], /is not an htpasswd user name/],
    ] as const) {
      const r = await run(["secrets", "add", "x", "--host", "web1", ...argv]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(msg);
    }
    await ok(["secrets", "add", "taken.password", "--host", "web1"], "some value");
    const clash = await run(["secrets", "add", "taken", "--host", "web1", "--generate", "sha512-crypt"]);
    expect(clash.stderr).toMatch(/secret taken\.password already exists, and a generated password would need that name/);
    expect(Object.keys(json().secrets)).not.toContain("taken");
    expect(Object.keys(json().secrets)).not.toContain("x");
  });

  it("no private key or password in any output but secrets cat, nor on disk", async () => {
    // A needle unique to each value: an OpenSSH key's first base64 line is the same for every key.
    const needles: string[] = [];
    for (const n of ["deploy-key", "wg0.key", "alice-hash.password"]) {
      const lines = (await cat(n)).trim().split("\n");
      needles.push(lines.length > 3 ? lines[2]! : lines[0]!);
    }
    const catOutputs = outputs.filter((o) => o.stderr === "" && needles.some((v) => o.stdout.includes(v)));
    expect(catOutputs.length).toBeGreaterThanOrEqual(3);
    for (const v of needles) {
      expect(v.length).toBeGreaterThanOrEqual(24);
      const r = spawnSync("grep", ["-rlsF", "-D", "skip", "--binary-files=text", "--", v, repo, "/tmp", "/var/tmp"], { encoding: "utf8" });
      expect(r.stdout.trim()).toBe("");
      for (const o of outputs) {
        expect(o.stderr).not.toContain(v);
        if (!catOutputs.includes(o)) expect(o.stdout).not.toContain(v);
      }
    }
  });
});

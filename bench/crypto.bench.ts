// Crypto benchmarks, each against its baseline in the same run:
// - wrap and unwrap per recipient type (X25519, ssh-ed25519, ssh-rsa 2048/4096):
//   nixseal in-process vs the age CLI spawned once per file (the agenix way);
// - X25519 wrap vs age-encryption in-process (why the format is on node:crypto);
// - one X25519 operation: node:crypto vs libsodium (the choice docs/crypto.md states);
// - encrypting 100 secrets to 20 ssh-ed25519 hosts: a fresh nixseal process vs
//   an `age -R hosts` loop, one spawn per secret.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decrypt, encrypt, parseIdentityFile, parseRecipient, type Identity, type Recipient } from "../core/age/index.js";
import { BASEPOINT, aeadSeal, hkdf, x25519, x25519PrivateKey, x25519PublicBytes, x25519PublicKey } from "../core/age/primitives.js";
import { encodeB64 } from "../core/age/base64.js";
import { SSH_ED25519_LABEL, type SshEd25519Recipient } from "../core/age/ssh-ed25519.js";
import { sealFileKey, useSodiumForSeal, type SodiumAead } from "../core/age/seal-file-key.js";
import { median, timeMedian, type BenchResult } from "./report.js";

const OPS = 100;
// Node start in this sandbox pays ~84 ms for NODE_EXTRA_CA_CERTS; real hosts do not.
const childEnv = { ...process.env };
delete childEnv.NODE_EXTRA_CA_CERTS;

function keygen(dir: string, name: string, type: string, bits?: number): { path: string; pub: string } {
  const path = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", path, ...(bits ? ["-b", String(bits)] : [])]);
  return { path, pub: readFileSync(path + ".pub", "utf8").trim() };
}

function ageLoop(args: (i: number) => string[], inputs: (Uint8Array | string)[]): number {
  const t0 = performance.now();
  for (let i = 0; i < inputs.length; i++) {
    const r = spawnSync("age", args(i), { input: inputs[i], env: childEnv });
    if (r.status !== 0) throw new Error(`age failed: ${r.stderr.toString()}`);
  }
  return performance.now() - t0;
}

/**
 * Times both sides in alternating rounds and returns each side's median: the
 * box is shared, and load drifts over a run.
 */
async function alternate(rounds: number, subject: () => unknown, baseline: () => number): Promise<{ subjectMs: number; baselineMs: number }> {
  const s: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < rounds; i++) {
    s.push(await timeMedian(3, subject));
    b.push(baseline());
  }
  return { subjectMs: median(s), baselineMs: median(b) };
}

/** Runs the crypto benchmarks. */
export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "nixseal-bench-"));
  try {
    return await runIn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runIn(dir: string): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const secret = () => randomBytes(64);

  // X25519 op: node:crypto KeyObjects vs libsodium.
  {
    const priv = x25519PrivateKey(randomBytes(32));
    const pub = x25519PublicKey(randomBytes(32));
    const n = 2000;
    const nodeMs = await timeMedian(5, () => {
      for (let i = 0; i < n; i++) x25519(priv, pub);
    });
    const sodiumMod = (await import("libsodium-wrappers")) as unknown as { default: { ready: Promise<void>; crypto_scalarmult(n: Uint8Array, p: Uint8Array): Uint8Array } };
    const sodium = sodiumMod.default;
    await sodium.ready;
    const s = randomBytes(32);
    const p = Uint8Array.from(BASEPOINT);
    const sodiumMs = await timeMedian(5, () => {
      for (let i = 0; i < n; i++) sodium.crypto_scalarmult(s, p);
    });
    results.push({ name: "X25519 operation", subject: `${n} ops, node:crypto diffieHellman`, baseline: `libsodium-wrappers crypto_scalarmult (${n} ops)`, subjectMs: nodeMs, baselineMs: sodiumMs });
  }

  // The per-stanza seal of a 16-byte file key, and a whole ssh-ed25519 wrap, with the
  // seal through libsodium (what the operator side uses once libsodium is loaded) or
  // node:crypto (before: createCipheriv per stanza), in alternating rounds.
  {
    const n = 20000;
    const sodium = ((await import("libsodium-wrappers")) as unknown as { default: SodiumAead & { ready: Promise<void> } }).default;
    await sodium.ready;
    const key = randomBytes(32);
    const fileKey = randomBytes(16);
    const nodeSeal: SodiumAead = { crypto_aead_chacha20poly1305_ietf_encrypt: (m, _a, _n, _nonce, k) => aeadSeal(k, m) };
    const seal = await alternate(
      5,
      () => {
        useSodiumForSeal(sodium);
        for (let i = 0; i < n; i++) sealFileKey(key, fileKey);
      },
      () => {
        useSodiumForSeal(nodeSeal);
        const t0 = performance.now();
        for (let i = 0; i < n; i++) sealFileKey(key, fileKey);
        return performance.now() - t0;
      },
    );
    results.push({ name: "seal a 16-byte file key", subject: `${n} stanza bodies, libsodium crypto_aead_chacha20poly1305_ietf_encrypt`, baseline: "node:crypto createCipheriv chacha20-poly1305", ...seal });
    // A whole wrap now against the wrap as it was before (randomBytes per ephemeral key,
    // node:crypto seal), rebuilt from the same primitives and the recipient's precomputation.
    useSodiumForSeal(sodium);
    const host = (await parseRecipient(keygen(dir, "seal-ed", "ed25519").pub)) as SshEd25519Recipient;
    const pre = host as unknown as { combined: KeyObject; pkM: Uint8Array; tag: string };
    const wrapBefore = (fk: Uint8Array) => {
      const key = x25519PrivateKey(randomBytes(32));
      const share = x25519PublicBytes(key);
      const body = aeadSeal(hkdf(x25519(key, pre.combined)!, Buffer.concat([share, pre.pkM]), SSH_ED25519_LABEL), fk);
      return [{ args: ["ssh-ed25519", pre.tag, encodeB64(share)], body }];
    };
    const wraps = 5000;
    // Each side timed once per round, rounds alternating, medians compared (the same treatment both ways).
    const now: number[] = [];
    const before: number[] = [];
    for (let round = 0; round < 9; round++) {
      let t0 = performance.now();
      for (let i = 0; i < wraps; i++) host.wrapFileKey(fileKey);
      now.push(performance.now() - t0);
      t0 = performance.now();
      for (let i = 0; i < wraps; i++) wrapBefore(fileKey);
      before.push(performance.now() - t0);
    }
    const wrap = { subjectMs: median(now), baselineMs: median(before) };
    results.push({ name: "ssh-ed25519 wrap, per stanza", subject: `${wraps} wraps now (pooled ephemeral randomness, libsodium seal)`, baseline: `the same ${wraps} wraps as before this change (randomBytes per key, node:crypto seal)`, ...wrap });
  }

  // Keys.
  const ed = keygen(dir, "ed", "ed25519");
  const rsa2048 = keygen(dir, "rsa2048", "rsa", 2048);
  const rsa4096 = keygen(dir, "rsa4096", "rsa", 4096);
  const xPath = join(dir, "x.txt");
  execFileSync("age-keygen", ["-o", xPath], { stdio: "ignore" });
  const xText = readFileSync(xPath, "utf8");
  const xRecipient = /public key: (age1\S+)/.exec(xText)![1]!;

  const types: { name: string; line: string; keyPath: string; ageArgs: string[] }[] = [
    { name: "X25519", line: xRecipient, keyPath: xPath, ageArgs: ["-r", xRecipient] },
    { name: "ssh-ed25519", line: ed.pub, keyPath: ed.path, ageArgs: ["-R", ed.path + ".pub"] },
    { name: "ssh-rsa 2048", line: rsa2048.pub, keyPath: rsa2048.path, ageArgs: ["-R", rsa2048.path + ".pub"] },
    { name: "ssh-rsa 4096", line: rsa4096.pub, keyPath: rsa4096.path, ageArgs: ["-R", rsa4096.path + ".pub"] },
  ];
  for (const t of types) {
    const r: Recipient = await parseRecipient(t.line);
    const ids: Identity[] = await parseIdentityFile(readFileSync(t.keyPath), t.keyPath);
    const inputs = Array.from({ length: OPS }, secret);
    const wrap = await alternate(
      3,
      () => {
        for (const p of inputs) encrypt(p, [r]);
      },
      () => ageLoop(() => t.ageArgs, inputs),
    );
    results.push({ name: `${t.name} wrap`, subject: `${OPS} files encrypted in-process`, baseline: `age CLI, one spawn per file`, ...wrap });
    const files = inputs.map((p) => encrypt(p, [r]));
    const unwrap = await alternate(
      3,
      () => {
        for (const f of files) decrypt(f, ids);
      },
      () => ageLoop(() => ["-d", "-i", t.keyPath], files),
    );
    results.push({ name: `${t.name} unwrap`, subject: `${OPS} files decrypted in-process`, baseline: `age -d, one spawn per file`, ...unwrap });
  }

  // X25519 wrap: ours vs age-encryption's Encrypter (both in-process).
  {
    const { Encrypter } = await import("age-encryption");
    const r = await parseRecipient(xRecipient);
    const inputs = Array.from({ length: OPS }, secret);
    const oursMs = await timeMedian(5, () => {
      for (const p of inputs) encrypt(p, [r]);
    });
    const typageMs = await timeMedian(3, async () => {
      for (const p of inputs) {
        const e = new Encrypter();
        e.addRecipient(xRecipient);
        await e.encrypt(p);
      }
    });
    results.push({ name: "X25519 wrap vs age-encryption", subject: `${OPS} files, nixseal on node:crypto`, baseline: "age-encryption 0.3.1 Encrypter, in-process", subjectMs: oursMs, baselineMs: typageMs });
  }

  // 100 secrets to 20 ssh-ed25519 hosts: a fresh nixseal process vs the age CLI loop.
  {
    const hosts = Array.from({ length: 20 }, (_, i) => keygen(dir, `host${i}`, "ed25519"));
    const hostsFile = join(dir, "hosts.txt");
    writeFileSync(hostsFile, hosts.map((h) => h.pub).join("\n") + "\n");
    const secrets = Array.from({ length: 100 }, secret);
    secrets.forEach((s, i) => writeFileSync(join(dir, `secret${i}`), s));
    const coreUrl = new URL("../core/age/index.js", import.meta.url).href;
    const script = join(dir, "encrypt-all.mjs");
    writeFileSync(
      script,
      `import { readFileSync, writeFileSync } from "node:fs";
import { encrypt, parseRecipientsFile } from ${JSON.stringify(coreUrl)};
const dir = ${JSON.stringify(dir)};
const rs = await parseRecipientsFile(readFileSync(dir + "/hosts.txt", "utf8"), "hosts.txt");
for (let i = 0; i < 100; i++) writeFileSync(dir + "/out" + i + ".age", encrypt(readFileSync(dir + "/secret" + i), rs));
`,
    );
    const ageAll = () => ageLoop((i) => ["-R", hostsFile, "-o", join(dir, `age${i}.age`), join(dir, `secret${i}`)], secrets.map(() => ""));
    const fresh = await alternate(
      5,
      () => {
        const r = spawnSync(process.execPath, [script], { env: childEnv });
        if (r.status !== 0) throw new Error(r.stderr.toString());
      },
      ageAll,
    );
    // Each output opens with the last host's key under age: the work was real.
    const check = spawnSync("age", ["-d", "-i", hosts[19]!.path, join(dir, "out99.age")], { env: childEnv });
    if (check.status !== 0 || !check.stdout.equals(secrets[99]!)) throw new Error("bench output does not decrypt with age");
    const rs = await Promise.all(hosts.map((h) => parseRecipient(h.pub)));
    const inProcess = await alternate(
      3,
      () => {
        for (const s of secrets) encrypt(s, rs);
      },
      ageAll,
    );
    results.push({
      name: "encrypt 100 secrets to 20 ssh-ed25519 hosts (in-process)",
      subject: "2000 wraps + 100 payloads in a running process (what a batch inside the CLI costs)",
      baseline: "age -R hosts.txt per secret (agenix loop)",
      ...inProcess,
    });
    results.push({
      name: "encrypt 100 secrets to 20 ssh-ed25519 hosts",
      subject: "one fresh nixseal process (Node start, imports, libsodium, 2000 wraps, writes)",
      baseline: "age -R hosts.txt per secret (agenix loop)",
      ...fresh,
    });
  }
  return results;
}

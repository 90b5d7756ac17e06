// `nixseal secrets rekey` of many secrets to many ssh-ed25519 hosts, against
// the age CLI loop that `agenix -r` runs (per secret: age -d with the admin
// key, piped into age -e with every recipient; one spawn each), in the same
// run, in two scenarios:
//  (a) one host is added to every secret, then `secrets rekey` (the common
//      case: recipients only added, so each blob keeps its file key and
//      payload and gets one more stanza);
//  (b) `secrets rekey --all`: a forced full re-encryption, fresh file keys.
// Each baseline loop re-encrypts the same secrets to the same recipients.
// NIXSEAL_BENCH_REKEY_SECRETS (default 1000), _HOSTS (default 50), and
// _BASELINE (how many secrets each baseline loop runs; default all; fewer are
// scaled linearly and the output says so).
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_FORMAT, generateAgeIdentity, parseHeader, type Repo } from "../core/index.js";
import { encryptMany } from "../cli/rekey/index.js";
import { loadRepo, recipientLines, recordRecipientSet, saveRepo } from "../cli/repo/index.js";
import type { BenchResult } from "./report.js";

const BIN = fileURLToPath(new URL("../cli/bin.js", import.meta.url));

function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

/** A child env without NODE_EXTRA_CA_CERTS (it adds ~84 ms to every Node start here). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Runs a command to completion: wall time and its stderr. */
function timed(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve({ ms: performance.now() - t0, stderr: err }) : reject(new Error(`${cmd} exited ${code}: ${err.slice(0, 500)}`))));
  });
}

/** Replaces the repo (nixseal.json and secrets/) in dir with a saved copy. */
function restore(dir: string, copy: string): void {
  rmSync(join(dir, "secrets"), { recursive: true, force: true });
  cpSync(join(copy, "secrets"), join(dir, "secrets"), { recursive: true });
  cpSync(join(copy, "nixseal.json"), join(dir, "nixseal.json"));
  // Flush the copy now, so its write-back is not charged to the timed run that follows.
  spawnSync("sync");
}

function saveCopy(dir: string, copy: string): void {
  mkdirSync(copy);
  cpSync(join(dir, "secrets"), join(copy, "secrets"), { recursive: true });
  cpSync(join(dir, "nixseal.json"), join(copy, "nixseal.json"));
}

/** The age CLI opens a blob with a key and gets the value, or the bench stops. */
function ageOpens(key: string, blob: string, value: string, what: string): void {
  const r = spawnSync("age", ["-d", "-i", key, blob], { encoding: "utf8" });
  if (r.status !== 0 || !r.stdout.startsWith(value)) throw new Error(`rekey bench: ${what}: age -d -i ${key} cannot open ${blob}: ${r.stderr}`);
}

const payloadOf = (blob: Uint8Array): Buffer => Buffer.from(blob.subarray(parseHeader(blob).payloadOffset));

export async function run(): Promise<BenchResult[]> {
  const nSecrets = envNumber("NIXSEAL_BENCH_REKEY_SECRETS", 1000);
  const nHosts = envNumber("NIXSEAL_BENCH_REKEY_HOSTS", 50);
  const nBaseline = Math.min(envNumber("NIXSEAL_BENCH_REKEY_BASELINE", nSecrets), nSecrets);
  const work = mkdtempSync(join(tmpdir(), "nixseal-bench-rekey-"));
  const dir = join(work, "repo");
  mkdirSync(dir);
  try {
    // Hosts (one more than the repo starts with): real ssh-ed25519 keys from ssh-keygen. Admin: an age identity file.
    const keys = join(work, "keys");
    mkdirSync(keys);
    const hostKeys: string[] = [];
    for (let h = 0; h <= nHosts; h++) {
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `host${h}`, "-f", join(keys, `host${h}`)]);
      hostKeys.push(readFileSync(join(keys, `host${h}.pub`), "utf8").trim());
    }
    const admin = generateAgeIdentity();
    const adminFile = join(keys, "admin.txt");
    writeFileSync(adminFile, admin.identity + "\n", { mode: 0o600 });

    // S0: nHosts hosts + admin, every secret encrypted to all of them (setup, not timed).
    const repo: Repo = { format: REPO_FORMAT, admins: [{ name: "bench", recipient: admin.recipient }], hosts: {}, secrets: {} };
    for (let h = 0; h < nHosts; h++) repo.hosts[`host${h}`] = { target: `root@127.0.0.${(h % 250) + 1}`, hostKey: hostKeys[h]! };
    const hosts = Object.keys(repo.hosts);
    const now = new Date().toISOString();
    for (let i = 0; i < nSecrets; i++) {
      repo.secrets[`secret-${i}`] = { hosts, owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: 1, updatedAt: now };
    }
    const secretsDir = join(dir, "secrets");
    mkdirSync(secretsDir);
    const names = Object.keys(repo.secrets);
    const value = (i: number): string => `value ${i} ${"x".repeat(32)}`;
    const lines0 = recipientLines(repo, names[0]!);
    const blobs = await encryptMany(names.map((name, i) => ({ name, plaintext: Buffer.from(value(i)), recipients: lines0 })));
    for (const name of names) {
      writeFileSync(join(secretsDir, `${name}.age`), blobs.get(name)!);
      repo.secrets[name]!.encryptedTo = recordRecipientSet(repo, lines0);
    }
    await saveRepo(dir, repo);
    writeFileSync(join(keys, "recipients0.txt"), lines0.join("\n") + "\n");
    const s0 = join(work, "s0");
    saveCopy(dir, s0);

    // S1: S0 plus host<nHosts> on every secret, as `host add` and adding it to each secret leave nixseal.json.
    const grown = (await loadRepo(dir)).repo;
    const newHost = `host${nHosts}`;
    grown.hosts[newHost] = { target: "root@127.0.0.254", hostKey: hostKeys[nHosts]! };
    for (const name of names) grown.secrets[name]!.hosts = [...grown.secrets[name]!.hosts, newHost];
    await saveRepo(dir, grown);
    const lines1 = recipientLines(grown, names[0]!);
    writeFileSync(join(keys, "recipients1.txt"), lines1.join("\n") + "\n");
    const s1 = join(work, "s1");
    saveCopy(dir, s1);

    // nixseal: a fresh process, as an operator runs it; once before and once after the
    // baseline, averaged, so a change in machine load during the run weighs on both sides.
    const env = cleanEnv({ NIXSEAL_IDENTITY: adminFile, NIXSEAL_NO_KEYCHAIN: "1", HOME: work });
    const nixseal = async (from: string, args: string[]): Promise<{ ms: number; stderr: string }> => {
      restore(dir, from);
      return timed(process.execPath, [BIN, "secrets", "rekey", ...args], { cwd: dir, env });
    };
    // The baseline: agenix -r's loop, one age -d | age -e pair per secret, plaintext only in the pipe.
    const baseline = async (recipients: string, out: string): Promise<{ ms: number; raw: number }> => {
      restore(dir, s0);
      mkdirSync(join(dir, out));
      const loop = `for i in $(seq 0 ${nBaseline - 1}); do age -d -i "$ADMIN" "secrets/secret-$i.age" | age -e -R "$RECIPIENTS" -o "${out}/secret-$i.age" || exit 1; done`;
      const { ms } = await timed("sh", ["-c", loop], { cwd: dir, env: cleanEnv({ ADMIN: adminFile, RECIPIENTS: recipients }) });
      return { ms: (ms * nSecrets) / nBaseline, raw: ms };
    };
    const last = nSecrets - 1;
    const blobPath = join(secretsDir, `secret-${last}.age`);
    const scaled = (raw: number): string => (nBaseline === nSecrets ? "" : `; baseline measured on ${nBaseline} secrets (${raw.toFixed(0)} ms) and scaled linearly to ${nSecrets}`);

    // (a) host<nHosts> added to every secret, then `secrets rekey`.
    const a1 = await nixseal(s1, []);
    if (!a1.stderr.includes(`${nSecrets} by adding recipients`)) throw new Error(`rekey bench (a): not every secret took the add path: ${a1.stderr.slice(0, 500)}`);
    ageOpens(join(keys, newHost), blobPath, value(last), "(a) the added host");
    ageOpens(join(keys, "host0"), blobPath, value(last), "(a) an old host");
    if (!payloadOf(readFileSync(blobPath)).equals(payloadOf(readFileSync(join(s0, "secrets", `secret-${last}.age`))))) {
      throw new Error("rekey bench (a): the payload changed; the add path should keep it");
    }
    const baseA = await baseline(join(keys, "recipients1.txt"), "baseline-a");
    const a2 = await nixseal(s1, []);

    // (b) `secrets rekey --all` on S0: everything re-encrypted with fresh file keys.
    const b1 = await nixseal(s0, ["--all"]);
    if (!b1.stderr.includes(`${nSecrets} in full`)) throw new Error(`rekey bench (b): not a full re-encryption: ${b1.stderr.slice(0, 500)}`);
    ageOpens(join(keys, `host${nHosts - 1}`), blobPath, value(last), "(b) a host");
    if (payloadOf(readFileSync(blobPath)).equals(payloadOf(readFileSync(join(s0, "secrets", `secret-${last}.age`))))) {
      throw new Error("rekey bench (b): the payload did not change under --all");
    }
    const baseB = await baseline(join(keys, "recipients0.txt"), "baseline-b");
    const b2 = await nixseal(s0, ["--all"]);

    const cores = `${availableParallelism()} cores`;
    return [
      {
        name: "rekey-add-host",
        subject: `host ${nHosts + 1} added to all ${nSecrets} secrets (${nHosts} ssh-ed25519 hosts + 1 age admin before), then nixseal secrets rekey, fresh process: appends 1 stanza per secret, file key and payload kept; mean of a run before (${a1.ms.toFixed(0)} ms) and after (${a2.ms.toFixed(0)} ms) the baseline, ${cores}${scaled(baseA.raw)}`,
        baseline: `the age CLI loop of agenix -r re-encrypting the same ${nSecrets} secrets to the new set (age -d | age -e -R, ${nHosts + 2} recipients, per secret; without agenix's per-secret nix-instantiate)`,
        subjectMs: (a1.ms + a2.ms) / 2,
        baselineMs: baseA.ms,
        target: 8,
      },
      {
        name: "rekey-all",
        subject: `nixseal secrets rekey --all, fresh process: full re-encryption with fresh file keys of ${nSecrets} secrets x (${nHosts} ssh-ed25519 hosts + 1 age admin); mean of a run before (${b1.ms.toFixed(0)} ms) and after (${b2.ms.toFixed(0)} ms) the baseline, ${cores}${scaled(baseB.raw)}`,
        baseline: `the age CLI loop of agenix -r (age -d | age -e -R, ${nHosts + 1} recipients, per secret; without agenix's per-secret nix-instantiate)`,
        subjectMs: (b1.ms + b2.ms) / 2,
        baselineMs: baseB.ms,
        target: 5,
      },
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

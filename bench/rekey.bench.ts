// `secrets rekey --all` of many secrets to many ssh-ed25519 hosts, against the
// age CLI loop that `agenix -r` runs (per secret: age -d with the admin key,
// piped into age -e with every recipient; one spawn each), in the same run.
// NIXSEAL_BENCH_REKEY_SECRETS (default 1000), _HOSTS (default 50), and
// _BASELINE (how many secrets the baseline loop runs; default all; fewer are
// scaled linearly and the output says so).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_FORMAT, generateAgeIdentity, type Repo } from "../core/index.js";
import { encryptMany } from "../cli/rekey/index.js";
import { recipientLines, recipientSetId, saveRepo } from "../cli/repo/index.js";
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

function timed(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${cmd} exited ${code}: ${err.slice(0, 500)}`))));
  });
}

export async function run(): Promise<BenchResult[]> {
  const nSecrets = envNumber("NIXSEAL_BENCH_REKEY_SECRETS", 1000);
  const nHosts = envNumber("NIXSEAL_BENCH_REKEY_HOSTS", 50);
  const nBaseline = Math.min(envNumber("NIXSEAL_BENCH_REKEY_BASELINE", nSecrets), nSecrets);
  const dir = mkdtempSync(join(tmpdir(), "nixseal-bench-rekey-"));
  try {
    // Hosts: real ssh-ed25519 keys from ssh-keygen. Admin: an age identity file.
    const keys = join(dir, "keys");
    mkdirSync(keys);
    const hostKeys: string[] = [];
    for (let h = 0; h < nHosts; h++) {
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `host${h}`, "-f", join(keys, `host${h}`)]);
      hostKeys.push(readFileSync(join(keys, `host${h}.pub`), "utf8").trim());
    }
    const admin = generateAgeIdentity();
    const adminFile = join(keys, "admin.txt");
    writeFileSync(adminFile, admin.identity + "\n", { mode: 0o600 });

    const repo: Repo = { format: REPO_FORMAT, admins: [{ name: "bench", recipient: admin.recipient }], hosts: {}, secrets: {} };
    for (let h = 0; h < nHosts; h++) repo.hosts[`host${h}`] = { target: `root@127.0.0.${(h % 250) + 1}`, hostKey: hostKeys[h]! };
    const hosts = Object.keys(repo.hosts);
    const now = new Date().toISOString();
    for (let i = 0; i < nSecrets; i++) {
      repo.secrets[`secret-${i}`] = { hosts, owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: 1, updatedAt: now };
    }
    // Initial blobs, encrypted to everyone (setup, not timed).
    const secretsDir = join(dir, "secrets");
    mkdirSync(secretsDir);
    const names = Object.keys(repo.secrets);
    const lines = recipientLines(repo, names[0]!);
    const blobs = await encryptMany(names.map((name, i) => ({ name, plaintext: Buffer.from(`value ${i} ${"x".repeat(32)}`), recipients: lines })));
    for (const name of names) {
      writeFileSync(join(secretsDir, `${name}.age`), blobs.get(name)!);
      repo.secrets[name]!.encryptedTo = recipientSetId(lines);
    }
    await saveRepo(dir, repo);
    writeFileSync(join(keys, "recipients.txt"), lines.join("\n") + "\n");

    // nixseal: one fresh process, as an operator runs it; once before and once after the
    // baseline, averaged, so a change in machine load during the run weighs on both sides.
    const env = cleanEnv({ NIXSEAL_IDENTITY: adminFile, NIXSEAL_NO_KEYCHAIN: "1", HOME: dir });
    const rekey = () => timed(process.execPath, [BIN, "secrets", "rekey", "--all"], { cwd: dir, env });
    const firstMs = await rekey();
    // Check the result with the age CLI: a host key opens a re-encrypted blob.
    const probe = spawnSync("age", ["-d", "-i", join(keys, `host${nHosts - 1}`), join(secretsDir, `secret-${nSecrets - 1}.age`)], { encoding: "utf8" });
    if (!probe.stdout.startsWith(`value ${nSecrets - 1} `)) throw new Error("rekey bench: age cannot open nixseal's re-encrypted blob");

    // Baseline: agenix -r's loop, one age -d | age -e pair per secret, plaintext only in the pipe.
    const out = join(dir, "baseline");
    mkdirSync(out);
    const loop = `for i in $(seq 0 ${nBaseline - 1}); do age -d -i "$ADMIN" "secrets/secret-$i.age" | age -e -R "$RECIPIENTS" -o "baseline/secret-$i.age" || exit 1; done`;
    const baselineRaw = await timed("sh", ["-c", loop], { cwd: dir, env: cleanEnv({ ADMIN: adminFile, RECIPIENTS: join(keys, "recipients.txt") }) });
    const baselineMs = (baselineRaw * nSecrets) / nBaseline;
    const secondMs = await rekey();
    const subjectMs = (firstMs + secondMs) / 2;
    const scaled = nBaseline === nSecrets ? "" : `; baseline measured on ${nBaseline} secrets (${baselineRaw.toFixed(0)} ms) and scaled linearly to ${nSecrets}`;
    return [
      {
        name: "rekey",
        subject: `nixseal secrets rekey --all, fresh process, mean of a run before (${firstMs.toFixed(0)} ms) and after (${secondMs.toFixed(0)} ms) the baseline: ${nSecrets} secrets x (${nHosts} ssh-ed25519 hosts + 1 age admin), ${availableParallelism()} cores${scaled}`,
        baseline: `the age CLI loop of agenix -r (age -d | age -e -R, ${nHosts + 1} recipients, per secret; without agenix's per-secret nix-instantiate)`,
        subjectMs,
        baselineMs,
        target: 8,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

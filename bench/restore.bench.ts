// Boot-time restore: `nixseal-agent restore` as a fresh process (process start to all
// files in place, on a real tmpfs) against the agenix-style activation loop, for each
// secret: age -d -i host_key -o tmp, chmod, mv, chown. Same host key (ssh-keygen
// ed25519), same ciphertexts, same tmpfs, same run.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeManifest } from "../cli/bundle/manifest.js";
import { BUNDLE_MANIFEST, encrypt, parseRecipient, type BundleSecret, type BundleTemplate } from "../core/index.js";
import { sha256Hex } from "../host-agent/generations/bundle-dir.js";
import { median, type BenchResult } from "./report.js";

const AGENT = join(dirname(fileURLToPath(import.meta.url)), "..", "host-agent", "bin.js");
// Child processes are timed as they start at boot: without the sandbox's extra CA bundle.
const childEnv = { ...process.env };
delete childEnv.NODE_EXTRA_CA_CERTS;

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function clearDir(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}

async function prepare(root: string, n: number, templates = 0): Promise<{ flags: string[]; bundle: string; key: string; runDir: string; baselineDir: string }> {
  const key = join(root, "ssh_host_ed25519_key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  const recipient = await parseRecipient(readFileSync(`${key}.pub`, "utf8"));
  const runDir = join(root, "run");
  const baselineDir = join(root, "agenix");
  for (const d of [runDir, baselineDir]) {
    mkdirSync(d);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m,mode=0751,noswap", "bench", d]);
  }
  const bundle = join(root, "bundle");
  mkdirSync(bundle);
  const secrets: BundleSecret[] = [];
  for (let i = 0; i < n; i++) {
    const name = `secret-${String(i).padStart(4, "0")}`;
    const blob = encrypt(Buffer.from(randomBytes(32).toString("base64")), [recipient]);
    writeFileSync(join(bundle, `${name}.age`), blob);
    secrets.push({ name, file: `${name}.age`, sha256: sha256Hex(blob), owner: "nobody", group: "nogroup", mode: "0400", restartUnits: [], reloadUnits: [], version: 1 });
  }
  // Templates: a small config file each, with two placeholders (as a Caddyfile or an env file has).
  const tpls: BundleTemplate[] = [];
  for (let t = 0; t < templates; t++) {
    const uses = [secrets[(2 * t) % n]!.name, secrets[(2 * t + 1) % n]!.name];
    const text = Buffer.from(`# config ${t}\nlisten 127.0.0.1:${8000 + t}\ntoken {{ secret "${uses[0]}" }}\npassword = {{ secret "${uses[1]}" }}\n`);
    writeFileSync(join(bundle, `conf-${t}.tmpl`), text);
    tpls.push({ name: `conf-${t}`, file: `conf-${t}.tmpl`, sha256: sha256Hex(text), uses, owner: "nobody", group: "nogroup", mode: "0400", restartUnits: [], reloadUnits: [], version: 1 });
  }
  writeFileSync(join(bundle, BUNDLE_MANIFEST), JSON.stringify(makeManifest("bench", secrets, undefined, tpls)));
  // The layout a host has by default, moved into the temp dir with the command-line
  // overrides (no config file: like most hosts, the boot path never loads zod).
  const flags = ["--identity", key, "--state-dir", join(root, "state"), "--run-dir", runDir, "--keys-dir", join(root, "keys")];
  const r = spawnSync(process.execPath, [AGENT, "import", bundle, ...flags], { env: childEnv, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bench setup: nixseal-agent import failed: ${r.stderr}`);
  return { flags, bundle, key, runDir, baselineDir };
}

/** The loop agenix's activation script runs, one process per step per secret. */
const AGENIX_LOOP = `set -e
key=$1; src=$2; out=$3
for f in "$src"/*.age; do
  name=$(basename "$f" .age)
  tmp="$out/$name.tmp"
  (umask u=r,g=,o=; age --decrypt -i "$key" -o "$tmp" "$f")
  chmod 0400 "$tmp"
  mv -f "$tmp" "$out/$name"
  chown nobody:nogroup "$out/$name"
done`;

function restoreOnce(p: { flags: string[]; runDir: string }, n: number): number {
  clearDir(p.runDir); // a boot: the tmpfs starts empty
  const ms = time(() => {
    const r = spawnSync(process.execPath, [AGENT, "restore", ...p.flags], { env: childEnv, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`nixseal-agent restore failed: ${r.stderr}`);
  });
  const restored = readdirSync(join(p.runDir, "current")).length;
  if (restored !== n) throw new Error(`restore put ${restored} of ${n} files in place`);
  return ms;
}

function agenixOnce(p: { key: string; bundle: string; baselineDir: string }, n: number): number {
  clearDir(p.baselineDir);
  const ms = time(() => {
    const r = spawnSync("bash", ["-c", AGENIX_LOOP, "agenix", p.key, p.bundle, p.baselineDir], { env: childEnv, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`agenix-style loop failed: ${r.stderr}`);
  });
  const done = readdirSync(p.baselineDir).length;
  if (done !== n) throw new Error(`agenix-style loop put ${done} of ${n} files in place`);
  return ms;
}

async function one(n: number, runs: number, baselineRuns: number, target: number): Promise<BenchResult> {
  const root = mkdtempSync(join(tmpdir(), "nixseal-bench-restore-"));
  try {
    const p = await prepare(root, n);
    // Subject and baseline runs alternate, so a busy machine weighs on both alike.
    const subject: number[] = [];
    const baseline: number[] = [];
    const load: number[] = [];
    for (let i = 0; i < Math.max(runs, baselineRuns); i++) {
      if (i < runs) {
        load.push(loadavg()[0]!);
        subject.push(restoreOnce(p, n));
      }
      if (i < baselineRuns) baseline.push(agenixOnce(p, n));
    }
    // The machine's load decides the spread of both sides (and whether the agent finds a
    // core for its decrypt worker): print it with the result.
    const busy = `load average ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)} on ${availableParallelism()} cores`;
    return {
      name: `restore ${n} secrets at boot`,
      subject: `nixseal-agent restore, fresh process, ${n} x ssh-ed25519, chown+chmod, real tmpfs, median of ${runs}; ${busy}`,
      baseline: `agenix-style loop (age -d, chmod, mv, chown per secret), median of ${baselineRuns}`,
      subjectMs: median(subject),
      baselineMs: median(baseline),
      target,
    };
  } finally {
    for (const d of ["run", "agenix"]) spawnSync("umount", ["-l", join(root, d)]);
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * What rendering templates adds to a boot restore: 100 secrets and 10 templates against
 * the same 100 secrets without them, alternating in the same run (ratio near 1: no cost).
 */
async function withTemplates(n: number, templates: number, runs: number): Promise<BenchResult> {
  const root = mkdtempSync(join(tmpdir(), "nixseal-bench-templates-"));
  try {
    mkdirSync(join(root, "with"));
    mkdirSync(join(root, "without"));
    const a = await prepare(join(root, "with"), n, templates);
    const b = await prepare(join(root, "without"), n, 0);
    const subject: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < runs; i++) {
      subject.push(restoreOnce(a, n + templates));
      baseline.push(restoreOnce(b, n));
    }
    return {
      name: `restore ${n} secrets + ${templates} templates at boot`,
      subject: `nixseal-agent restore with ${templates} templates of 2 placeholders each, median of ${runs}`,
      baseline: `the same restore without the templates, median of ${runs}`,
      subjectMs: median(subject),
      baselineMs: median(baseline),
    };
  } finally {
    for (const side of ["with", "without"]) for (const d of ["run", "agenix"]) spawnSync("umount", ["-l", join(root, side, d)]);
    rmSync(root, { recursive: true, force: true });
  }
}

/** Restore 100 and 1000 secrets; and the cost of templates. */
export async function run(): Promise<BenchResult[]> {
  return [await one(100, 9, 5, 10), await one(1000, 5, 2, 30), await withTemplates(100, 10, 9)];
}

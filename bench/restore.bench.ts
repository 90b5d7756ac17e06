// Boot-time restore: `nixseal-agent restore` as a fresh process (process start to all
// files in place, on a real tmpfs), in the same run and on the same ciphertexts (the
// generation the agent stored), against its two baselines:
// - the agenix-style activation loop, for each secret: age -d -i host_key -o tmp, chmod,
//   mv, chown (one process per step);
// - the compiled peer (bench/restore-peer/main.go, built from Debian's Go and
//   filippo.io/age packages): one static Go process that reads the manifest, and for each
//   secret reads it, checks its sha256, decrypts it with the host key, writes it
//   O_EXCL|O_NOFOLLOW, fchmod, fchown; then swaps a symlink, as sops-nix's installer does.
// `node -e 0` is timed alongside: Node's own start, the floor of any Node restore.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeManifest } from "../cli/bundle/manifest.js";
import { BUNDLE_MANIFEST, encrypt, parseRecipient, type BundleSecret, type BundleTemplate } from "../core/index.js";
import { sha256Hex } from "../host-agent/generations/bundle-dir.js";
import { median, range, type BenchResult } from "./report.js";

const AGENT = join(dirname(fileURLToPath(import.meta.url)), "..", "host-agent", "bin.cjs");
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

interface Prepared {
  flags: string[];
  bundle: string;
  key: string;
  runDir: string;
  baselineDir: string;
  peerDir: string;
  /** The stored generation the agent restores (manifest.json, .age files, its seal). */
  generation: string;
}

async function prepare(root: string, n: number, templates = 0): Promise<Prepared> {
  const key = join(root, "ssh_host_ed25519_key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  const recipient = await parseRecipient(readFileSync(`${key}.pub`, "utf8"));
  const runDir = join(root, "run");
  const baselineDir = join(root, "agenix");
  const peerDir = join(root, "peer");
  for (const d of [runDir, baselineDir, peerDir]) {
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
  return { flags, bundle, key, runDir, baselineDir, peerDir, generation: join(root, "state", "current") };
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

function timedRun(what: string, dir: string, expect: number, argv: string[]): number {
  clearDir(dir); // a boot: the tmpfs starts empty
  const ms = time(() => {
    const r = spawnSync(argv[0]!, argv.slice(1), { env: childEnv, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr}`);
  });
  const live = existsSync(join(dir, "current")) ? join(dir, "current") : dir;
  const done = readdirSync(live).length;
  if (done !== expect) throw new Error(`${what} put ${done} of ${expect} files in place`);
  return ms;
}

const restoreOnce = (p: Prepared, n: number) => timedRun("nixseal-agent restore", p.runDir, n, [process.execPath, AGENT, "restore", ...p.flags]);
const peerOnce = (p: Prepared, peer: string, n: number) => timedRun("the compiled peer", p.peerDir, n, [peer, p.key, p.generation, p.peerDir]);
const agenixOnce = (p: Prepared, n: number) => timedRun("agenix-style loop", p.baselineDir, n, ["bash", "-c", AGENIX_LOOP, "agenix", p.key, p.bundle, p.baselineDir]);
const nodeStart = () => time(() => spawnSync(process.execPath, ["-e", "0"], { env: childEnv }));

/** Builds the compiled peer into dir (Debian packages installed when missing). */
function buildPeer(dir: string): string {
  const out = join(dir, "restore-peer");
  const script = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench", "restore-peer", "build.sh");
  const r = spawnSync("bash", [script, out], { encoding: "utf8", stdio: ["ignore", "inherit", "pipe"] });
  if (r.status !== 0) throw new Error(`bench: building the compiled peer failed: ${r.stderr}`);
  return out;
}

async function one(n: number, peer: string, runs: number, baselineRuns: number, targets: { agenix: number }): Promise<BenchResult[]> {
  const root = mkdtempSync(join(tmpdir(), "nixseal-bench-restore-"));
  try {
    const p = await prepare(root, n);
    // All sides alternate, so a busy machine weighs on each alike.
    const subject: number[] = [];
    const compiled: number[] = [];
    const agenix: number[] = [];
    const node: number[] = [];
    const load: number[] = [];
    for (let i = 0; i < Math.max(runs, baselineRuns); i++) {
      if (i < runs) {
        load.push(loadavg()[0]!);
        subject.push(restoreOnce(p, n));
        compiled.push(peerOnce(p, peer, n));
        node.push(nodeStart());
      }
      if (i < baselineRuns) agenix.push(agenixOnce(p, n));
    }
    // The machine's load decides the spread of every side: print it with the result.
    const busy = `load average ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)} on ${availableParallelism()} cores`;
    const agent = `nixseal-agent restore, fresh process, ${n} x ssh-ed25519, chown+chmod, real tmpfs, ${runs} runs; ${busy}`;
    return [
      {
        name: `restore ${n} secrets at boot vs the agenix loop`,
        subject: agent,
        baseline: `agenix-style loop (age -d, chmod, mv, chown per secret), ${baselineRuns} runs`,
        subjectMs: median(subject),
        baselineMs: median(agenix),
        ranges: { subject: range(subject), baseline: range(agenix) },
        target: targets.agenix,
      },
      {
        name: `restore ${n} secrets at boot vs the compiled peer`,
        subject: agent,
        baseline: `one Go process with filippo.io/age (read, sha256, decrypt, write, fchmod, fchown per secret, symlink swap), ${runs} runs`,
        subjectMs: median(subject),
        baselineMs: median(compiled),
        ranges: { subject: range(subject), baseline: range(compiled) },
        target: 1,
      },
      {
        name: `Node's own start (node -e 0) vs the compiled peer restoring ${n}`,
        subject: `node -e 0, ${runs} runs: the floor of any restore in Node`,
        baseline: "the compiled peer, same runs",
        subjectMs: median(node),
        baselineMs: median(compiled),
        ranges: { subject: range(node), baseline: range(compiled) },
      },
    ];
  } finally {
    for (const d of ["run", "agenix", "peer"]) spawnSync("umount", ["-l", join(root, d)]);
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
      subject: `nixseal-agent restore with ${templates} templates of 2 placeholders each, ${runs} runs`,
      baseline: `the same restore without the templates, ${runs} runs`,
      subjectMs: median(subject),
      baselineMs: median(baseline),
      ranges: { subject: range(subject), baseline: range(baseline) },
    };
  } finally {
    for (const side of ["with", "without"]) for (const d of ["run", "agenix", "peer"]) spawnSync("umount", ["-l", join(root, side, d)]);
    rmSync(root, { recursive: true, force: true });
  }
}

/** Restore 100 and 1000 secrets; and the cost of templates. */
export async function run(): Promise<BenchResult[]> {
  const tools = mkdtempSync(join(tmpdir(), "nixseal-bench-peer-"));
  try {
    const peer = buildPeer(tools);
    return [...(await one(100, peer, 15, 5, { agenix: 15 })), ...(await one(1000, peer, 7, 2, { agenix: 40 })), await withTemplates(100, 10, 9)];
  } finally {
    rmSync(tools, { recursive: true, force: true });
  }
}

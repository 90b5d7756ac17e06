// Test fixtures for the agent, all real: an ssh-ed25519 host key from ssh-keygen,
// bundles encrypted to it, a real tmpfs mounted in a temp dir, real users via useradd.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeManifest } from "../../cli/bundle/manifest.js";
import { BUNDLE_MANIFEST, bundleContentId, encrypt, parseRecipient, type BundleManifest, type BundleSecret, type BundleTemplate } from "../../core/index.js";
import type { AgentConfig } from "../../host-agent/config/defaults.js";
import { agentConfigSchema } from "../../host-agent/config/schema.js";
import { sha256Hex } from "../../host-agent/generations/bundle-dir.js";

export interface TestSecret {
  name: string;
  value: string;
  owner?: string;
  group?: string;
  mode?: string;
  path?: string;
  restartUnits?: string[];
  reloadUnits?: string[];
  version?: number;
  neededForUsers?: boolean;
}

/** A template of a bundle: its text, the secrets it uses and the metadata of its rendered file. */
export type TestTemplate = Omit<TestSecret, "value" | "neededForUsers"> & { text: string; uses: string[] };

export interface AgentEnv {
  root: string;
  config: AgentConfig;
  hostKey: string;
  hostPub: string;
  cleanup: () => void;
}

/** A fresh ed25519 host key pair made by ssh-keygen. */
export function makeHostKey(dir: string): { key: string; pub: string } {
  const key = join(dir, "ssh_host_ed25519_key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test-host", "-f", key]);
  return { key, pub: readFileSync(`${key}.pub`, "utf8").trim() };
}

/** Mounts a real tmpfs (noswap) at dir. */
export function mountTmpfs(dir: string, size = "16m"): void {
  mkdirSync(dir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0751,noswap,nodev,nosuid,noexec`, "nixseal-test", dir]);
}

export function umount(dir: string): void {
  spawnSync("umount", ["-l", dir]);
}

/**
 * A temp root: stateDir on disk, runDir a real tmpfs, keysDir absent (the plain
 * systemd case), its own host key.
 */
export function makeEnv(opts: { tmpfsSize?: string; keysDir?: "absent" | "directory"; config?: Partial<AgentConfig> } = {}): AgentEnv {
  const root = mkdtempSync(join(tmpdir(), "nixseal-agent-test-"));
  const { key, pub } = makeHostKey(root);
  const runDir = join(root, "run", "nixseal");
  mountTmpfs(runDir, opts.tmpfsSize);
  const keysDir = join(root, "run", "keys");
  if (opts.keysDir === "directory") mkdirSync(keysDir, { mode: 0o750 });
  const config = agentConfigSchema.parse({
    identityPaths: [key, join(root, "ssh_host_rsa_key")],
    stateDir: join(root, "var", "lib", "nixseal"),
    runDir,
    keysDir,
    socket: join(root, "run", "nixseal-agent", "agent.sock"),
    forUsersDir: join(runDir, "for-users"),
    systemSecrets: join(root, "etc", "nixseal", "secrets.json"),
    restartUnits: false,
    ...opts.config,
  });
  return {
    root,
    config,
    hostKey: key,
    hostPub: pub,
    cleanup: () => {
      umount(runDir);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Writes a bundle dir of these secrets, encrypted to the recipient line (and these templates, as text). */
export async function writeBundle(dir: string, recipientLine: string, secrets: TestSecret[], host = "testhost", templates: TestTemplate[] = []): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const recipient = await parseRecipient(recipientLine);
  const entries: BundleSecret[] = secrets.map((s) => {
    const blob = encrypt(Buffer.from(s.value), [recipient]);
    const file = `${s.name}.age`;
    writeFileSync(join(dir, file), blob);
    return {
      name: s.name,
      file,
      sha256: sha256Hex(blob),
      owner: s.owner ?? "root",
      group: s.group ?? "root",
      mode: s.mode ?? "0400",
      ...(s.path ? { path: s.path } : {}),
      restartUnits: s.restartUnits ?? [],
      reloadUnits: s.reloadUnits ?? [],
      version: s.version ?? 1,
      ...(s.neededForUsers ? { neededForUsers: true as const } : {}),
    };
  });
  const tmpl: BundleTemplate[] = templates.map((t) => {
    const file = `${t.name}.tmpl`;
    writeFileSync(join(dir, file), t.text);
    return {
      name: t.name,
      file,
      sha256: sha256Hex(Buffer.from(t.text)),
      uses: t.uses,
      owner: t.owner ?? "root",
      group: t.group ?? "root",
      mode: t.mode ?? "0400",
      ...(t.path ? { path: t.path } : {}),
      restartUnits: t.restartUnits ?? [],
      reloadUnits: t.reloadUnits ?? [],
      version: t.version ?? 1,
    };
  });
  writeFileSync(join(dir, BUNDLE_MANIFEST), JSON.stringify(makeManifest(host, entries, undefined, tmpl), null, 2));
  return dir;
}

/**
 * Edits a bundle dir's manifest.json as a writer who knows the format would: the change,
 * then the content id recomputed (an edit that keeps the old id is refused on its own).
 */
export function rewriteManifest(dir: string, edit: (m: BundleManifest) => void): void {
  const file = join(dir, BUNDLE_MANIFEST);
  const m = JSON.parse(readFileSync(file, "utf8")) as BundleManifest;
  edit(m);
  m.id = bundleContentId(m.host, m.secrets, m.templates ?? []);
  writeFileSync(file, JSON.stringify(m, null, 2) + "\n");
}

/**
 * Runs a shadow-utils command until it gets the /etc/passwd lock (test files run in
 * parallel and useradd fails at once when another holds it), for at most 10 s.
 */
function withPasswdLock(cmd: string, args: string[]): void {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    if (r.status === 0) return;
    if (!/lock/i.test(r.stderr) || Date.now() > deadline) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
    spawnSync("sleep", ["0.05"]); // poll interval while the lock holder finishes
  }
}

/** Creates a system user (and its group) unless it exists; returns a remover. */
export function ensureUser(name: string): () => void {
  // Test-only names: one a killed earlier run left behind is reused, and removed afterwards
  // all the same (else a test that deletes it to make an owner unknown would see it stay).
  if (spawnSync("id", ["-u", name]).status !== 0) withPasswdLock("useradd", ["--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name]);
  return () => {
    if (spawnSync("id", ["-u", name]).status === 0) withPasswdLock("userdel", [name]);
    spawnSync("groupdel", [name]);
  };
}

/** Every file under dir, recursively (for plaintext greps). */
export function grepTree(dir: string, needle: string): string[] {
  const r = spawnSync("grep", ["-rlF", "--", needle, dir], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean);
}

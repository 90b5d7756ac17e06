// The agent's state-changing operations, shared by the API routes and the local CLI
// commands: stage (check a bundle, store it as a pending generation), activate,
// rollback. Each takes the agent lock and records its outcome in status.json.
import { existsSync } from "node:fs";
import type { LastRun, StageReply } from "../../core/agent-api.js";
import { loadAccounts } from "../plaintext/accounts.js";
import { readBundleUpload, readStoredGeneration, requireWhole } from "./bundle-dir.js";
import { managedPaths, type AgentConfig } from "../config/defaults.js";
import { errors } from "../errors.js";
import { findGenerationById, generationDir, linkedGeneration, pruneGenerations, setStateLinks, storeGeneration } from "./store.js";
import { loadHostIdentities } from "../plaintext/host-keys.js";
import { installGeneration, type InstallOutcome } from "./install-generation.js";
import { acquireLock } from "./lock.js";
import { decryptSecret, resolveOwner } from "../plaintext/materialize.js";
import { checkRunDir } from "../plaintext/memory-fs.js";
import { checkKeysDir } from "../plaintext/links.js";
import { checkTemplate } from "../plaintext/templates.js";
import { NixsealError } from "../../core/errors.js";
import { recordRun } from "../status/state-file.js";

function withLock<T>(config: AgentConfig, fn: () => Promise<T>): Promise<T> {
  checkRunDir(config.runDir, config);
  const release = acquireLock(config.runDir);
  return fn().finally(release);
}

/**
 * Checks an uploaded bundle dir completely (schema, sha256 of every file, every secret
 * decrypts in memory with this host's keys, owners and groups exist) and stores it as
 * a pending generation. Changes nothing live.
 */
export async function stage(config: AgentConfig, dir: string): Promise<StageReply> {
  const checked = await checkBundle(config, dir, "");
  return withLock(config, async () => storeChecked(config, checked));
}

/** A bundle read and checked whole: every blob decrypts, every owner and group exists. */
async function checkBundle(config: AgentConfig, dir: string, root: string) {
  // an image's paths as its running system will see them: without the root it is mounted at
  const managed = managedPaths(config).map((p) => (root !== "" && p.startsWith(root + "/") ? p.slice(root.length) : p));
  const bundle = await readBundleUpload(dir, managed);
  const entries = bundle.entries;
  (await import("./system-secrets.js")).requireCurrentNames(dir, bundle.manifest);
  const warnings: string[] = [];
  const identities = await loadHostIdentities(config.identityPaths, (w) => warnings.push(w));
  const accounts = loadAccounts(root);
  for (const { secret, blob } of entries) {
    resolveOwner(secret, accounts);
    decryptSecret(secret.name, blob, identities).fill(0);
  }
  for (const t of bundle.templates) {
    resolveOwner(t.template, accounts);
    checkTemplate(t);
  }
  return { manifest: bundle.manifest, entries, templates: bundle.templates, warnings };
}

async function storeChecked(config: AgentConfig, { manifest, entries, templates, warnings }: Awaited<ReturnType<typeof checkBundle>>): Promise<StageReply> {
  const secrets = manifest.secrets.map(({ name, version, sha256, owner, group, mode }) => ({ name, version, sha256, owner, group, mode }));
  const found = await findGenerationById(config.stateDir, manifest.id);
  if (found !== undefined) return { generation: found, id: manifest.id, existing: true, secrets, warnings };
  return { generation: storeGeneration(config.stateDir, manifest, entries, templates), id: manifest.id, existing: false, secrets, warnings };
}

/**
 * Image baking: checks a bundle against an offline system tree at `root` (its host
 * key, its users and groups) and stores it there as the current generation. No
 * plaintext is written anywhere: the image's first boot restores it. The image must not
 * be running.
 */
export async function bakeBundle(config: AgentConfig, dir: string, root: string): Promise<StageReply> {
  const staged = await storeChecked(config, await checkBundle(config, dir, root));
  const current = linkedGeneration(config.stateDir, "current");
  if (current !== staged.generation) setStateLinks(config.stateDir, staged.generation, current);
  pruneGenerations(config.stateDir, config.keepGenerations);
  return staged;
}

async function record(config: AgentConfig, action: LastRun["action"], generation: number, t0: number, run: () => Promise<InstallOutcome>): Promise<InstallOutcome> {
  try {
    const out = await run();
    const failed = out.results.filter((r) => !r.ok).length;
    await recordRun(config.stateDir, { action, generation, runGeneration: out.runGeneration, at: new Date().toISOString(), ok: failed === 0, failed, durationMs: Date.now() - t0 }, out.results);
    return out;
  } catch (err) {
    const e = err instanceof NixsealError ? err : errors.internal([]);
    await recordRun(config.stateDir, { action, generation, runGeneration: null, at: new Date().toISOString(), ok: false, failed: 0, durationMs: Date.now() - t0, error: { code: e.code, message: e.message } }, undefined).catch(() => {});
    throw err;
  }
}

/**
 * Makes a stored generation live, all or nothing: any secret that cannot be made
 * (unknown owner, bad blob) aborts it with the old generation still live. A bundle
 * the running system was not built for is refused (system-secrets.ts), unless
 * `nextSystem` names the digest of the system about to be built for it; a rollback
 * returns to what ran before and is not checked.
 */
export async function activate(config: AgentConfig, generation: number, action: LastRun["action"] = "activate", nextSystem?: string): Promise<InstallOutcome> {
  return withLock(config, () =>
    record(config, action, generation, Date.now(), async () => {
      const dir = generationDir(config.stateDir, generation);
      if (!existsSync(dir)) throw errors.generationNotFound([generation, config.stateDir]);
      const bundle = await readStoredGeneration(dir);
      requireWhole(bundle);
      if (action !== "rollback") (await import("./system-secrets.js")).requireSystemMatch(config, bundle.manifest, generation, nextSystem);
      return installGeneration(config, generation, bundle, { partial: false, flipState: true, restart: true });
    }),
  );
}

/** Activates the previous generation (current and previous trade places). */
export async function rollback(config: AgentConfig): Promise<InstallOutcome> {
  const previous = linkedGeneration(config.stateDir, "previous");
  if (previous === undefined || !existsSync(generationDir(config.stateDir, previous))) throw errors.noPrevious([]);
  return activate(config, previous, "rollback");
}

/** `nixseal-agent import DIR`: stage, then activate (no deploy tool involved). */
export async function importBundle(config: AgentConfig, dir: string): Promise<{ stage: StageReply; activation: InstallOutcome }> {
  // what activate would refuse, refused before anything is stored
  checkRunDir(config.runDir, config);
  checkKeysDir(config.keysDir, config.runDir);
  const staged = await stage(config, dir);
  const activation = await activate(config, staged.generation, "import");
  return { stage: staged, activation };
}

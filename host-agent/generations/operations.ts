// The agent's state-changing operations, shared by the API routes and the local CLI
// commands: stage (check a bundle, store it as a pending generation), activate,
// rollback. Each takes the agent lock and records its outcome in status.json.
import { existsSync } from "node:fs";
import type { BundleProblem, CheckReply, LastRun, StageReply } from "../../core/agent-api.js";
import { unitStates } from "../systemd/unit-states.js";
import { loadAccounts } from "../plaintext/accounts.js";
import { readBundleUpload, readStoredGeneration, requireWhole } from "./bundle-dir.js";
import { managedPaths, type AgentConfig } from "../config/defaults.js";
import { errors } from "../errors.js";
import { findGenerationById, generationDir, linkedGeneration, pruneGenerations, replaceSeal, setStateLinks, storeGeneration } from "./store.js";
import { packSeal } from "./seal.js";
import type { Identity, Recipient } from "../../core/age/types.js";
import type { BundleManifest } from "../../core/schema/bundle.js";
import { loadHostIdentities } from "../plaintext/host-keys.js";
import { installGeneration, type InstallOutcome } from "./install-generation.js";
import { acquireLock } from "./lock.js";
import { decryptSecret, resolveOwner } from "../plaintext/materialize.js";
import { checkRunDir } from "../plaintext/memory-fs.js";
import { checkKeysDir, pathWalkProblem } from "../plaintext/links.js";
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
 * a pending generation. Changes nothing live. Every problem is reported at once.
 */
export async function stage(config: AgentConfig, dir: string, opts: { requireUnits?: boolean } = {}): Promise<StageReply> {
  const checked = await inspectBundle(config, dir, "", opts.requireUnits ?? false, true);
  throwProblems(checked.problems);
  return { ...(await withLock(config, async () => storeChecked(config, checked))), units: checked.units };
}

/**
 * What stage would say of a bundle dir, without storing it (deploy --dry-run): every
 * problem, including the activation's check against the system the host runs (or the
 * one its deploy builds next), and what systemd knows of the units it names.
 */
export async function check(config: AgentConfig, dir: string, opts: { nextSystem?: string; requireUnits?: boolean } = {}): Promise<CheckReply> {
  let checked: Awaited<ReturnType<typeof inspectBundle>>;
  try {
    checked = await inspectBundle(config, dir, "", opts.requireUnits ?? false);
  } catch (err) {
    if (!(err instanceof NixsealError)) throw err;
    return { ok: false, id: null, problems: [problemOf(err)], units: [] };
  }
  const problems: BundleProblem[] = checked.problems.map(({ error, secret }) => problemOf(error, secret));
  try {
    (await import("./system-secrets.js")).requireSystemMatch(config, checked.manifest, 0, opts.nextSystem);
  } catch (err) {
    if (!(err instanceof NixsealError)) throw err;
    problems.push(problemOf(err));
  }
  return { ok: problems.length === 0, id: checked.manifest.id, problems, units: checked.units };
}

/** A refusal as /check reports it: names and codes, never a value. */
function problemOf(err: NixsealError, secret?: string): BundleProblem {
  return { code: err.code, message: err.message, ...(secret ? { secret } : {}), ...(err.hints.length ? { hints: err.hints } : {}) };
}

/** Every unit the bundle's secrets and templates restart or reload, with the names of those that do. */
function unitsOf(secrets: readonly { name: string; restartUnits: string[]; reloadUnits: string[] }[]): Map<string, string[]> {
  const named = new Map<string, string[]>();
  for (const s of secrets) for (const u of [...s.restartUnits, ...s.reloadUnits]) named.set(u, [...new Set([...(named.get(u) ?? []), s.name])]);
  return new Map([...named].sort(([a], [b]) => a.localeCompare(b)));
}

/** One problem: the error as thrown, and the secret it is about. */
interface Found {
  error: NixsealError;
  secret?: string;
}

/** Stage refuses with the problem itself, or with all of them in one error. */
function throwProblems(problems: Found[]): void {
  if (problems.length === 1) throw problems[0]!.error;
  if (problems.length > 1) throw errors.bundleProblems([problems.length, problems.map((p) => p.error.message).join("; ")]);
}

/**
 * A bundle read whole (a structural problem throws: nothing else can be checked), then
 * each secret's owner, group and decryption, each template, and the directories on the
 * way to each path (safe-path.ts), collecting every problem instead of stopping at the
 * first; with requireUnits, each unit they restart or reload must exist on this host (a deploy without a config: nothing would add it).
 * With `seal` (a bundle about to be stored) and no problem, the plaintexts go straight
 * into the generation's seal, encrypted to the host's first key; they are zeroed either way.
 */
async function inspectBundle(config: AgentConfig, dir: string, root: string, requireUnits = false, seal = false) {
  // an image's paths as its running system will see them: without the root it is mounted at
  const managed = managedPaths(config).map((p) => (root !== "" && p.startsWith(root + "/") ? p.slice(root.length) : p));
  const bundle = await readBundleUpload(dir, managed);
  const entries = bundle.entries;
  (await import("./system-secrets.js")).requireCurrentNames(dir, bundle.manifest);
  const warnings: string[] = [];
  const identities = await loadHostIdentities(config.identityPaths, (w) => warnings.push(w));
  const accounts = loadAccounts(root);
  const problems: Found[] = [];
  const attempt = (secret: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof NixsealError)) throw err;
      problems.push({ error: err, secret });
    }
  };
  // owner and group each on its own, so a secret with both missing reports both
  // (no group: the owner's primary group, there whenever the owner is)
  const owners = (s: { name: string; owner: string; group?: string }) => {
    attempt(s.name, () => resolveOwner({ name: s.name, owner: s.owner, group: "0" }, accounts));
    if (s.group !== undefined) attempt(s.name, () => resolveOwner({ name: s.name, owner: "0", group: s.group }, accounts));
  };
  const plaintexts: Uint8Array[] = [];
  try {
    for (const { secret, blob } of entries) {
      owners(secret);
      attempt(secret.name, () => {
        const p = decryptSecret(secret.name, blob, identities);
        if (seal) plaintexts.push(p);
        else p.fill(0);
      });
    }
    for (const t of bundle.templates) {
      owners(t.template);
      attempt(t.template.name, () => checkTemplate(t));
    }
    // this host's directories on the way to each path (an image's are not this host's)
    if (root === "") {
      for (const s of [...bundle.manifest.secrets, ...bundle.templates.map((t) => t.template)]) {
        const problem = s.path === undefined ? undefined : pathWalkProblem(s.name, s.path);
        if (problem) problems.push({ error: problem, secret: s.name });
      }
    }
    const named = unitsOf([...bundle.manifest.secrets, ...bundle.templates.map((t) => t.template)]);
    const units = root === "" ? await unitStates([...named.keys()]) : [];
    if (requireUnits) {
      for (const u of units.filter((x) => !x.found)) {
        const by = named.get(u.unit)!;
        problems.push({ error: errors.unitMissing([u.unit, by.join(", "), u.loadState === "not-found" ? "not on this host" : `${u.loadState} on this host`]), secret: by[0] });
      }
    }
    const sealed = seal && problems.length === 0 ? await sealFor(identities, bundle.manifest, plaintexts) : undefined;
    return { manifest: bundle.manifest, entries, templates: bundle.templates, warnings, problems, units, seal: sealed };
  } finally {
    for (const p of plaintexts) p.fill(0);
  }
}

/** The seal of a generation, to the first host key (the one the boot restore tries first). */
async function sealFor(identities: Identity[], manifest: BundleManifest, plaintexts: Uint8Array[]): Promise<Uint8Array> {
  const recipient = (identities[0] as Partial<{ recipient(): Recipient }>).recipient?.();
  if (!recipient) throw errors.internal([]);
  const container = packSeal(manifest.id, manifest.secrets, plaintexts);
  try {
    return (await import("../../core/age/index.js")).encrypt(container, [recipient]);
  } finally {
    container.fill(0);
  }
}

async function storeChecked(config: AgentConfig, { manifest, entries, templates, warnings, seal }: Awaited<ReturnType<typeof inspectBundle>>): Promise<StageReply> {
  const secrets = manifest.secrets.map(({ name, version, sha256, owner, group, mode }) => ({ name, version, sha256, owner, group, mode }));
  const found = await findGenerationById(config.stateDir, manifest.id);
  if (found !== undefined) {
    // stored before (maybe by a version without seals, or for a host key since replaced)
    if (seal) replaceSeal(config.stateDir, found, seal);
    return { generation: found, id: manifest.id, existing: true, secrets, warnings };
  }
  return { generation: storeGeneration(config.stateDir, manifest, entries, templates, seal), id: manifest.id, existing: false, secrets, warnings };
}

/**
 * Image baking: checks a bundle against an offline system tree at `root` (its host
 * key, its users and groups) and stores it there as the current generation. No
 * plaintext is written anywhere: the image's first boot restores it. The image must not
 * be running.
 */
export async function bakeBundle(config: AgentConfig, dir: string, root: string): Promise<StageReply> {
  const checked = await inspectBundle(config, dir, root, false, true);
  throwProblems(checked.problems);
  const staged = await storeChecked(config, checked);
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

// Makes one stored generation live: plaintext into a new run directory, flip
// runDir/current (the single commit point), links, state links, prune, then restart
// the units of the secrets that really changed. A crash at any point leaves the old
// generation or the new one, whole, behind /run/keys.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { NixsealError } from "../../core/errors.js";
import type { BundleManifest, BundleSecret, BundleTemplate } from "../../core/schema/bundle.js";
import { loadAccounts } from "../plaintext/accounts.js";
import { readStoredManifest, type BundleDir } from "./bundle-dir.js";
import { managedPaths, type AgentConfig } from "../config/defaults.js";
import { generationDir, linkedGeneration, pruneGenerations, setStateLinks } from "./store.js";
import type { Identity } from "../../core/age/decrypt.js";
import { loadHostIdentities } from "../plaintext/host-keys.js";
import { linkForUsers } from "../plaintext/for-users.js";
import { checkKeysDir, flipCurrent, linkKeysAfterFlip, linkKeysBeforeFlip, linkPaths, type KeysDirKind } from "../plaintext/links.js";
import { materialize, type SecretResult } from "../plaintext/materialize.js";
import { checkRunDir } from "../plaintext/memory-fs.js";
import { helperFor, type DecryptHelper } from "../plaintext/parallel-decrypt.js";
import type { UnitActions } from "../../core/agent-api.js";

interface InstallOptions {
  /** Skip failing secrets (boot restore) instead of aborting with nothing changed. */
  partial: boolean;
  /** With partial: skip a secret that does not fit, or abort with nothing changed (default). */
  noSpace?: "skip" | "abort";
  /** Record the generation as current in stateDir (not for boot restore). */
  flipState: boolean;
  /** Restart/reload the units of changed secrets. */
  restart: boolean;
  /** A decrypt worker started early (restore); without it one is started for a large bundle. */
  helper?: DecryptHelper;
  /** The host's keys, when the caller loaded them already (restore: it reports their warnings). */
  identities?: Identity[];
  /** The generation's plaintexts from its seal, by entry index (restore): no decryption then. */
  plaintexts?: readonly Uint8Array[];
}

export interface InstallOutcome {
  generation: number;
  /** Directory name under runDir that is live now. */
  runGeneration: string;
  results: SecretResult[];
  /** Secrets whose content, owner, group or mode changed, plus those removed. */
  changed: string[];
  units: UnitActions;
  pruned: number[];
  /** Problems that did not stop the switch (a /run/keys link that could not be made). */
  warnings: string[];
  /** Boot restore only: why the keys dir was refused and left alone (its links are missing). */
  keysDirRefused?: string;
  keysDirHints?: string[];
}

/** What a generation puts in /run/keys: its secrets, then its rendered templates. */
function liveFiles(manifest: BundleManifest): BundleSecret[] {
  return [...manifest.secrets, ...(manifest.templates ?? [])];
}

/** The files of the generation recorded as current (the one being replaced). */
async function oldSecrets(stateDir: string, gen: number, bundle: BundleDir): Promise<BundleSecret[]> {
  const cur = linkedGeneration(stateDir, "current");
  if (cur === undefined) return [];
  if (cur === gen) return liveFiles(bundle.manifest); // a restore: already read
  try {
    return liveFiles(await readStoredManifest(generationDir(stateDir, cur)));
  } catch {
    return [];
  }
}

/** Removes every generation directory in runDir but the live one (plaintext kept no longer than needed). */
function pruneRunDir(runDir: string, live: string): void {
  for (const name of readdirSync(runDir)) {
    if (name === live) continue;
    // older generations, and a temp link an interrupted flip left behind
    if (/^[0-9]+(\.[0-9]+)?$/.test(name) || /^\.current\.[0-9a-f]+\.tmp$/.test(name)) rmSync(join(runDir, name), { recursive: true, force: true });
  }
}

/**
 * Installs generation `gen` (already read and checked as `bundle`).
 *
 * @throws AgentError when nothing could be made live (no host key, full tmpfs, planted
 * symlink, or any failing secret when not partial); the old generation stays live
 */
export async function installGeneration(config: AgentConfig, gen: number, bundle: BundleDir, opts: InstallOptions): Promise<InstallOutcome> {
  checkRunDir(config.runDir, config);
  const warnings: string[] = [];
  // Before anything changes: a keys dir that is not ours stops a live switch; the boot
  // restore still restores into runDir and says why the keys dir was left alone.
  let keysKind: KeysDirKind | undefined;
  let keysDirRefused: string | undefined;
  let keysDirHints: string[] = [];
  try {
    keysKind = checkKeysDir(config.keysDir, config.runDir);
  } catch (err) {
    if (!opts.partial || !(err instanceof NixsealError)) {
      opts.helper?.close();
      throw err;
    }
    keysDirRefused = `${err.message}; the secrets are in ${join(config.runDir, "current")} only`;
    keysDirHints = err.hints;
  }
  const helper = opts.plaintexts ? undefined : (opts.helper ?? helperFor(bundle.entries.length, config.identityPaths));
  let materialized: Awaited<ReturnType<typeof materialize>>;
  let before: BundleSecret[];
  try {
    const identities = opts.identities ?? (await loadHostIdentities(config.identityPaths, (w) => warnings.push(w)));
    before = await oldSecrets(config.stateDir, gen, bundle);
    materialized = await materialize({
      runDir: config.runDir,
      generation: gen,
      entries: bundle.entries,
      identities,
      accounts: loadAccounts(),
      partial: opts.partial,
      noSpace: opts.noSpace,
      helper,
      templates: bundle.templates,
      previous: new Map(before.map((f) => [f.name, { sha256: f.sha256, ...("uses" in f ? { uses: (f as BundleTemplate).uses } : {}) }])),
      plaintexts: opts.plaintexts,
    });
  } finally {
    helper?.close();
  }
  const { name, results } = materialized;
  const byName = new Map(results.map((r) => [r.name, r]));
  const okNames = results.filter((r) => r.ok).map((r) => r.name);
  if (keysKind) linkKeysBeforeFlip(config.keysDir, keysKind, config.runDir, okNames, byName);
  flipCurrent(config.runDir, name);
  try {
    if (keysKind) linkKeysAfterFlip(config.keysDir, keysKind, config.runDir, okNames);
  } catch (err) {
    // the generation is live behind runDir/current; only the NixOps path is missing
    const why = err instanceof NixsealError ? err.message : ((err as NodeJS.ErrnoException).code ?? "failed");
    warnings.push(`cannot link ${config.keysDir} to ${join(config.runDir, "current")}: ${why} (systemd-tmpfiles --create /etc/tmpfiles.d/nixseal.conf makes it)`);
  }
  const live = new Set(okNames);
  const files = liveFiles(bundle.manifest);
  linkPaths(config.runDir, files.filter((s) => live.has(s.name)), before, byName, managedPaths(config));
  try {
    linkForUsers(config, name, bundle.manifest.secrets.filter((s) => live.has(s.name)));
  } catch (err) {
    warnings.push(`cannot link the secrets for users into ${config.forUsersDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (opts.flipState) {
    const cur = linkedGeneration(config.stateDir, "current");
    setStateLinks(config.stateDir, gen, cur !== gen ? cur : linkedGeneration(config.stateDir, "previous"));
  }
  pruneRunDir(config.runDir, name);
  const pruned = opts.flipState ? pruneGenerations(config.stateDir, config.keepGenerations) : [];

  const newNames = new Set(files.map((s) => s.name));
  const removed = before.filter((s) => !newNames.has(s.name));
  // `changed` is set only for a file written; a link that failed later does not undo it
  // (a template changes when a secret it uses does: it is compared as rendered)
  const changedNew = files.filter((s) => byName.get(s.name)?.changed);
  const changed = [...changedNew, ...removed];
  // systemctl only after a live change; the boot restore never loads it
  const units = opts.restart && config.restartUnits ? await (await import("../systemd/restart-units.js")).restartChangedUnits(changed) : { restarted: [], reloaded: [], results: [] };
  return { generation: gen, runGeneration: name, results, changed: changed.map((s) => s.name), units, pruned, warnings, ...(keysDirRefused ? { keysDirRefused, keysDirHints } : {}) };
}

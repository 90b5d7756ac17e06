// `nixseal-agent restore`, the boot oneshot: decrypt the current generation at rest into
// a new run generation and flip to it. Best effort per secret: one that cannot be
// made (unknown owner, bad blob) is reported and skipped, the others are restored.
// A current generation that cannot be restored whole as a generation (its manifest is
// missing or damaged, or it does not fit the memory filesystem) falls back to
// previous; when previous does not fit either, what fits of current is restored.
// A generation the agent stored carries its seal (generations/seal.ts): one unwrap
// gives every plaintext; without a usable seal each secret is decrypted on its own.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { GENERATION_SEAL, readStoredGeneration, type BundleDir } from "../generations/bundle-dir.js";
import type { AgentConfig } from "../config/defaults.js";
import { errors } from "../errors.js";
import { generationDir, linkedGeneration } from "../generations/store.js";
import { installGeneration, type InstallOutcome } from "../generations/install-generation.js";
import { openSeal, type OpenedSeal } from "../generations/seal.js";
import { loadHostIdentities } from "../plaintext/host-keys.js";
import { helperFor, type DecryptHelper } from "../plaintext/parallel-decrypt.js";
import { acquireLock } from "../generations/lock.js";
import { checkRunDir } from "../plaintext/memory-fs.js";
import { NixsealError } from "../../core/errors.js";
import { currentBootId, monotonicUs, recordRun } from "../status/state-file.js";
import { bootDrift } from "./drift.js";

interface RestoreOutcome {
  /** The generation restored; null when none is installed yet. */
  generation: number | null;
  /** Set when current was unusable and previous was restored instead. */
  fellBackFrom?: { generation: number; reason: string };
  /** Why the restored generation's seal could not be used (every secret was decrypted on its own). */
  sealProblem?: string;
  outcome?: InstallOutcome;
  /** How the restored bundle disagrees with what the running system was built for (restored anyway). */
  drift?: string[];
}

interface Candidate {
  generation: number;
  bundle: BundleDir;
  /** Its seal, opened once (zeroed when the restore ends); absent when it has none that fits. */
  seal?: OpenedSeal;
  sealProblem?: string;
}

/**
 * Restores the current generation (or previous) into runDir.
 *
 * @throws AgentError when nothing could be restored at all (no host key, both
 * generations unreadable); per-secret failures are in outcome.results instead
 */
export async function restore(config: AgentConfig): Promise<RestoreOutcome> {
  const t0 = Date.now();
  checkRunDir(config.runDir, config);
  const release = acquireLock(config.runDir);
  let generation: number | null = null;
  let helper: DecryptHelper | undefined;
  const opened: Candidate[] = [];
  try {
    const current = linkedGeneration(config.stateDir, "current");
    const previous = linkedGeneration(config.stateDir, "previous");
    if (current === undefined && previous === undefined) return { generation: null };
    let first: Candidate | undefined;
    let fellBackFrom: RestoreOutcome["fellBackFrom"];
    const problems: string[] = [];
    for (const g of [current, previous]) {
      if (g === undefined || first) continue;
      try {
        // A large bundle without a seal: the decrypt worker starts now, while the blobs are read.
        const dir = generationDir(config.stateDir, g);
        const bundle = await readStoredGeneration(dir, (m) => {
          if (!existsSync(join(dir, GENERATION_SEAL))) helper ??= helperFor(m.secrets.length, config.identityPaths);
        });
        first = { generation: g, bundle };
      } catch (err) {
        const reason = err instanceof NixsealError ? err.message : String(err);
        problems.push(reason);
        if (g === current) fellBackFrom = { generation: g, reason };
      }
    }
    if (!first) throw errors.bundleInvalid([config.stateDir, `no usable generation: ${problems.join("; ")}`]);
    // Every host key, loaded once: each skipped file is one warning of this run.
    const keyWarnings: string[] = [];
    const identities = await loadHostIdentities(config.identityPaths, (w) => keyWarnings.push(w));
    const withSeal = (c: Candidate): Candidate => {
      const s = openSeal(c.bundle.dir, c.bundle.manifest, identities);
      if (s && "problem" in s) c.sealProblem = s.problem;
      else if (s) opened.push(Object.assign(c, { seal: s }));
      return c;
    };
    withSeal(first);
    // A seal that does not open: a large bundle gets the worker after all.
    if (!first.seal) helper ??= helperFor(first.bundle.entries.length, config.identityPaths);

    const install = (c: Candidate, noSpace: "skip" | "abort", withHelper: boolean) =>
      installGeneration(config, c.generation, c.bundle, {
        partial: true,
        noSpace,
        flipState: false,
        restart: false,
        helper: withHelper && !c.seal ? helper : undefined,
        identities,
        plaintexts: c.seal?.plaintexts,
      });
    const canFallBack = first.generation === current && previous !== undefined && previous !== current;
    let outcome: InstallOutcome;
    let restored: Candidate = first;
    generation = first.generation;
    try {
      // whole, or nothing flipped: a current generation that does not fit gives way to previous
      outcome = await install(first, canFallBack ? "abort" : "skip", true);
    } catch (err) {
      if (!canFallBack || (err as NixsealError).code !== errors.noSpace.code) throw err;
      const reason = (err as NixsealError).message;
      const fallback = await readFallback(config, previous!);
      let fitted: InstallOutcome | undefined;
      if (fallback) {
        try {
          fitted = await install(withSeal(fallback), "abort", false);
          generation = fallback.generation;
          restored = fallback;
          fellBackFrom = { generation: first.generation, reason };
        } catch (e) {
          if ((e as NixsealError).code !== errors.noSpace.code) throw e;
        }
      }
      // neither fits whole: what fits of current, the rest reported one by one
      outcome = fitted ?? (await install(first, "skip", false));
    }
    outcome.warnings.unshift(...keyWarnings);
    // At boot the host restores what it has; a disagreement with the system is reported.
    const drift = await bootDrift(config, restored.bundle.manifest);
    if (drift.length) outcome.warnings.push(`generation ${generation} does not match ${config.systemSecrets}: ${drift.join("; ")} (deploy the host with its config: nixseal deploy HOST)`);
    const failed = outcome.results.filter((r) => !r.ok).length;
    const ok = failed === 0 && !fellBackFrom;
    const durationMs = Date.now() - t0;
    await recordRun(
      config.stateDir,
      { action: "restore", generation, runGeneration: outcome.runGeneration, at: new Date().toISOString(), ok, failed, durationMs },
      outcome.results,
      // Taken once the plaintext is live: what its consumers' start times are compared with.
      { bootId: currentBootId(), invocationId: process.env.INVOCATION_ID ?? null, generation, ok, failed, durationMs, finishedMonotonicUs: monotonicUs() },
    );
    return { generation, fellBackFrom, ...(restored.sealProblem ? { sealProblem: restored.sealProblem } : {}), outcome, ...(drift.length ? { drift } : {}) };
  } catch (err) {
    const e = err instanceof NixsealError ? err : errors.internal([]);
    const durationMs = Date.now() - t0;
    await recordRun(
      config.stateDir,
      { action: "restore", generation, runGeneration: null, at: new Date().toISOString(), ok: false, failed: 0, durationMs, error: { code: e.code, message: e.message } },
      undefined,
      { bootId: currentBootId(), invocationId: process.env.INVOCATION_ID ?? null, generation, ok: false, failed: 0, durationMs, finishedMonotonicUs: monotonicUs() },
    ).catch(() => {});
    throw err;
  } finally {
    for (const c of opened) c.seal!.container.fill(0);
    helper?.close();
    release();
  }
}

/** Previous, read once current turned out not to fit; undefined when it is unusable too. */
async function readFallback(config: AgentConfig, previous: number): Promise<Candidate | undefined> {
  try {
    return { generation: previous, bundle: await readStoredGeneration(generationDir(config.stateDir, previous)) };
  } catch {
    return undefined;
  }
}

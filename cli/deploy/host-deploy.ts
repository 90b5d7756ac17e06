// One host's deploy, start to finish: connect -> lock -> upload -> stage -> config ->
// activate -> rebuild, and on any failure put back what was changed, in reverse.
import { randomBytes } from "node:crypto";
import type { NodeSSH } from "node-ssh";
import { NixsealError, unitActionLine, type RepoHost, type UnitAction } from "../../core/index.js";
import { AgentClient } from "./agent-client.js";
import { agentActivate, agentRollback, agentStage, agentStatus } from "./agent-api.js";
import { installConfig, localConfigListing, listingHash, remoteConfigListing, restoreConfig, type ConfigListing } from "./config.js";
import { takeLock, type RemoteLock } from "./lock.js";
import { describeRebuild, rebuildAvailable, rebuildMissing, runRebuild, waitRebuildGone } from "./rebuild.js";
import { prepareStaging, removeStaging, uploadDir, type Staging } from "./upload.js";
import { connectHost } from "./ssh.js";
import { recordStep, type HostResult, type ProgressSink, type StepRecord } from "./steps.js";
import { parseTarget } from "./target.js";
import { checkRootTarget } from "../repo/validate.js";

/** After a lost connection: how long to wait for the old session's lock to go. */
const RECONNECT_LOCK_WAIT_S = 60;
/** ...and for a rebuild the lost session started to finish on the host. */
const REBUILD_GONE_WAIT_S = 600;

/** What to ship to one host. */
export interface HostJob {
  name: string;
  host: RepoHost;
  /** Local config dir (hosts/NAME unless configured). */
  configDir: string;
  /** Local dir with the host's bundle (manifest.json + .age), built before connecting. */
  bundleDir?: string;
  /** The bundle's manifest id. */
  bundleId?: string;
  /** No config to ship (a host without a config dir of its own, e.g. not NixOS): secrets only. */
  noConfig?: boolean;
  /** Digest of the config's nixseal-secrets.json: what the rebuild builds the system for. */
  nextSystem?: string;
}

/** Flags that shape every host's deploy. */
export interface DeployFlags {
  secrets: boolean;
  config: boolean;
  upgrade: boolean;
  /** Seconds to wait for another deploy's lock; 0 refuses at once. */
  waitSeconds: number;
  sshKey?: string;
  env: Record<string, string | undefined>;
  /** Test seam: called after each uploaded file (e.g. to cut the connection mid-upload). */
  onUploadedFile?: (host: string, path: string) => void;
}

/** Connects with the pinned key (shared by deploy, status and rollback). */
export async function connectJob(job: Pick<HostJob, "name" | "host">, flags: Pick<DeployFlags, "sshKey" | "env">): Promise<NodeSSH> {
  const target = parseTarget(job.host.target, job.name);
  checkRootTarget(target, job.name);
  return connectHost({
    hostName: job.name,
    target,
    hostKey: job.host.hostKey,
    sshKey: flags.sshKey ?? job.host.sshKey,
    env: flags.env,
  });
}

/** Turns anything thrown into the report's error shape (no stack, no values). */
export function errorInfo(err: unknown): { code: string; message: string; hints: string[] } {
  if (err instanceof NixsealError) return { code: err.code, message: err.message, hints: err.hints };
  return { code: "NIXSEAL_ERR_INTERNAL", message: err instanceof Error ? err.message : String(err), hints: [] };
}

/**
 * Deploys one host. Never throws: the result says what happened and what was put back.
 */
export async function deployHost(job: HostJob, flags: DeployFlags, sink: ProgressSink): Promise<HostResult> {
  const t0 = performance.now();
  const steps: StepRecord[] = [];
  const step = <T>(name: Parameters<typeof recordStep>[3], fn: () => Promise<T>, detail?: (r: T) => string | undefined) =>
    recordStep(steps, sink, job.name, name, fn, detail);
  const result: HostResult = { host: job.name, ok: false, outcome: "failed", steps, ms: 0 };
  let ssh: NodeSSH | undefined;
  let lock: RemoteLock | undefined;
  let staging: Staging | undefined;
  let configInstalled = false;
  let secretsActivated = false;
  let rebuildStarted = false;
  // set before a changing step starts: if the connection drops during it, whether it
  // happened is read back from the host after reconnecting
  let configAttempted = false;
  let activateAttempted = false;
  let listing: ConfigListing | undefined;
  let generation: number | undefined;
  const runId = randomBytes(6).toString("hex");
  const doConfig = flags.config && !job.noConfig;
  try {
    ssh = await step("connect", () => connectJob(job, flags));
    const conn = ssh;
    lock = await step(
      "lock",
      () => takeLock(conn, job.name, flags.waitSeconds, (holder) => sink.warn(job.name, `waiting up to ${flags.waitSeconds}s for the deploy lock held by ${holder}`)),
      (l) => (l.waited ? "waited for another deploy" : undefined),
    );
    // A host that cannot rebuild fails here, before anything is uploaded or changed.
    if (doConfig && !(await rebuildAvailable(conn, { command: job.host.rebuild }))) throw rebuildMissing({ hostName: job.name, command: job.host.rebuild });
    listing = doConfig ? await localConfigListing(job.configDir) : undefined;
    const files = listing;
    staging = await step("upload", async () => {
      const s = await prepareStaging(conn, job.name);
      let files = 0;
      const onFile = (p: string) => flags.onUploadedFile?.(job.name, p);
      if (doConfig) files += await uploadDir(conn, job.name, job.configDir, s.config, onFile);
      if (flags.secrets && job.bundleDir) files += await uploadDir(conn, job.name, job.bundleDir, s.bundle, onFile);
      return Object.assign(s, { files });
    }, (s) => `${(s as Staging & { files: number }).files} files`);
    const agent = new AgentClient(conn, job.name);
    if (flags.secrets) {
      const before = await agentStatus(agent);
      result.previousGeneration = before.current;
      // Without a config nothing could add a unit the host lacks: the agent refuses it.
      const staged = await step("stage", () => agentStage(agent, staging!.bundle, !doConfig), (r) => `generation ${r.generation}`);
      generation = staged.generation;
      result.generation = generation;
      for (const u of staged.units ?? []) if (!u.found) sink.warn(job.name, unitAddedByRebuild(u.unit));
      if (generation === before.current) sink.output(job.name, `secrets unchanged (generation ${generation} is already active)`);
    }
    if (doConfig && files) {
      configAttempted = true;
      await step("config", () => installConfig(conn, job.name, staging!.config), () => `${files.size} files`);
      configInstalled = true;
      result.config = { files: files.size, hash: listingHash(files) };
    }
    if (flags.secrets && generation !== undefined && generation !== result.previousGeneration) {
      activateAttempted = true;
      // Shipped with its config, the bundle is checked against the system the rebuild builds next.
      const activated = await step("activate", () => agentActivate(agent, generation!, configInstalled ? job.nextSystem : undefined), () => `generation ${generation}`);
      secretsActivated = true;
      result.units = showUnits(job.name, sink, activated.units.results);
    }
    if (doConfig) {
      const flake = files?.has("flake.nix") ?? false;
      result.rebuild = describeRebuild({ hostName: job.name, command: job.host.rebuild, upgrade: flags.upgrade }, flake);
      rebuildStarted = true;
      await step("rebuild", () => runRebuild(conn, { hostName: job.name, command: job.host.rebuild, upgrade: flags.upgrade }, (c) => lastLine(c, (l) => sink.output(job.name, l)), runId), () => result.rebuild);
    }
    result.outcome = secretsActivated || configInstalled ? "deployed" : "unchanged";
    // The new secrets stay live (putting the old ones back would restart the unit again),
    // but a unit that did not come back is a failed deploy for the person running it.
    const failedUnits = (result.units ?? []).filter((a) => a.result === "failed");
    if (failedUnits.length) result.error = restartFailed(job.name, failedUnits);
    else result.ok = true;
  } catch (err) {
    result.error = errorInfo(err);
    if ((configAttempted || activateAttempted) && !ssh?.isConnected()) {
      // The connection died after the host may have changed: reconnect and wait for what
      // the lost session left running before reading back what actually happened.
      ssh?.dispose();
      lock = undefined; // it died with the session
      try {
        sink.warn(job.name, "connection lost after the host was changed: reconnecting to put back the previous state");
        ssh = await step("reconnect", () => connectJob(job, flags));
        const conn = ssh;
        lock = await takeLock(conn, job.name, RECONNECT_LOCK_WAIT_S);
        if (rebuildStarted) await waitRebuildGone(conn, job.name, runId, REBUILD_GONE_WAIT_S);
      } catch (again) {
        ssh?.dispose();
        result.error.hints.push(`could not reconnect to put things back (${errorInfo(again).message}): run "nixseal rollback ${job.name}" once the host is reachable`);
      }
    }
    if (ssh?.isConnected()) {
      const conn = ssh;
      // A step that failed part-way may still have changed the host: read it back.
      try {
        if (configAttempted && !configInstalled && listing) configInstalled = listingHash(await remoteConfigListing(conn)) === listingHash(listing);
        if (activateAttempted && !secretsActivated) {
          const now = await agentStatus(new AgentClient(conn, job.name));
          secretsActivated = now.current === generation && generation !== result.previousGeneration;
        }
      } catch (readErr) {
        sink.warn(job.name, `could not read back the host's state: ${errorInfo(readErr).message}`);
      }
      if (configInstalled || secretsActivated) {
        result.restored = await putBack(conn, job, sink, step, { configInstalled, secretsActivated, rebuildStarted });
        const r = result.restored;
        result.outcome = r.config !== "failed" && r.secrets !== "failed" && r.rebuild !== "failed" ? "rolled-back" : "failed";
        if (r.rebuild === "failed") result.error.hints.push(`/etc/nixos is back to the previous config but its rebuild failed: run the rebuild on the host by hand`);
      } else {
        result.restored = { config: "untouched", secrets: "untouched" };
      }
    } else if (configAttempted || activateAttempted) {
      // unknown: the host may or may not have changed
      result.restored = { config: configAttempted ? "failed" : "untouched", secrets: activateAttempted ? "failed" : "untouched" };
    } else {
      result.restored = { config: "untouched", secrets: "untouched" };
    }
  } finally {
    if (ssh?.isConnected() && staging) await removeStaging(ssh, staging);
    await lock?.release().catch(() => undefined);
    ssh?.dispose();
  }
  result.ms = Math.round(performance.now() - t0);
  return result;
}

/** After a failure: previous secrets, previous /etc/nixos, then rebuild on it if a rebuild ran. */
async function putBack(
  ssh: NodeSSH,
  job: HostJob,
  sink: ProgressSink,
  step: <T>(name: Parameters<typeof recordStep>[3], fn: () => Promise<T>) => Promise<T>,
  done: { configInstalled: boolean; secretsActivated: boolean; rebuildStarted: boolean },
): Promise<NonNullable<HostResult["restored"]>> {
  const restored: NonNullable<HostResult["restored"]> = { config: "untouched", secrets: "untouched" };
  if (done.secretsActivated) {
    try {
      const back = await step("restore-secrets", () => agentRollback(new AgentClient(ssh, job.name)));
      restored.secrets = "restored";
      showUnits(job.name, sink, back.units.results);
    } catch (err) {
      restored.secrets = "failed";
      sink.warn(job.name, `could not put back the previous secrets: ${errorInfo(err).message}`);
    }
  }
  let hadPrevious = false;
  if (done.configInstalled) {
    try {
      hadPrevious = await step("restore-config", () => restoreConfig(ssh, job.name));
      restored.config = "restored";
    } catch (err) {
      restored.config = "failed";
      sink.warn(job.name, `could not put back the previous /etc/nixos: ${errorInfo(err).message}`);
    }
  }
  // The failed rebuild may have switched part-way: switch again on the previous config so
  // the running system matches /etc/nixos.
  if (done.rebuildStarted && restored.config === "restored" && hadPrevious) {
    try {
      await step("rebuild-previous", () => runRebuild(ssh, { hostName: job.name, command: job.host.rebuild, upgrade: false }));
      restored.rebuild = "ok";
    } catch (err) {
      restored.rebuild = "failed";
      sink.warn(job.name, `the rebuild on the previous config failed too: ${errorInfo(err).message}`);
    }
  }
  return restored;
}

function lastLine(chunk: string, emit: (line: string) => void): void {
  const line = chunk.trimEnd().split("\n").pop();
  if (line) emit(line);
}

/** A unit a secret names that the host lacks now: with a config, the rebuild may add it. */
export function unitAddedByRebuild(unit: string): string {
  return `${unit} is not on the host now: the rebuild must add it, or its restart will be skipped`;
}

/** Each restart/reload result as a progress line; returns them for the report. */
export function showUnits(host: string, sink: ProgressSink, results: UnitAction[] | undefined): UnitAction[] | undefined {
  for (const a of results ?? []) sink.output(host, unitActionLine(a));
  return results;
}

/** Some unit failed to restart or reload after the switch. */
function restartFailed(host: string, failed: UnitAction[]): { code: string; message: string; hints: string[] } {
  const units = failed.map((a) => a.unit);
  return {
    code: "NIXSEAL_ERR_DEPLOY_RESTART",
    message: `host "${host}": the new secrets are live but ${failed.map((a) => `${a.action} ${a.unit} failed${a.error ? ` (${a.error})` : ""}`).join("; ")}`,
    hints: [`look at the unit on the host: systemctl status ${units.join(" ")}; journalctl -u ${units[0]}`, `to go back to the previous secrets: nixseal rollback ${host} --secrets-only`],
  };
}

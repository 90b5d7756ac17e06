// The multi-host commands (deploy, status, rollback): pick hosts from the repo, build
// bundles, run each host's work in a pool, print the summary, set the exit code.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { NixsealError, type Repo } from "../../core/index.js";
import type { CliIo } from "../io.js";
import { printJson, printWarning } from "../output.js";
import { hostConfigDir, hostsOf, openRepo, secretsForHost, type LoadedRepo } from "../repo/index.js";
import { AgentClient } from "./agent-client.js";
import { agentRollback, agentStatus } from "./agent-api.js";
import { writeHostBundle } from "./bundle.js";
import { describeDiff, diffConfig, diffSecrets, hasDrift, readHostView, type WantedSecret } from "./compare.js";
import { swapConfig } from "./config.js";
import { connectJob, deployHost, errorInfo, type DeployFlags, type HostJob } from "./host-deploy.js";
import { takeLock } from "./lock.js";
import { runAll, summaryLine, viewMode } from "./progress.js";
import { describeRebuild, runRebuild } from "./rebuild.js";
import { recordStep, type HostResult, type StepRecord } from "./steps.js";

/** Options shared by deploy, status and rollback. */
export interface RunOptions {
  hosts: string[];
  parallel: number;
  json: boolean;
  sshKey?: string;
  waitSeconds: number;
}

/** The named hosts (all when none), each checked against the repo. */
export function selectHosts(repo: Repo, names: string[]): string[] {
  const all = hostsOf(repo);
  if (names.length === 0) {
    if (all.length === 0) throw new NixsealError("NIXSEAL_ERR_DEPLOY_NO_HOSTS", "the repo has no hosts", { hints: ['add one with "nixseal host add NAME --target root@ADDRESS --scan"'] });
    return all;
  }
  for (const n of names) {
    if (!repo.hosts[n]) {
      throw new NixsealError("NIXSEAL_ERR_UNKNOWN_HOST", `unknown host "${n}"`, { hints: ['"nixseal host list" shows the registered hosts'] });
    }
  }
  return [...new Set(names)];
}

/**
 * A host whose default config dir (hosts/NAME) does not exist has no NixOS config in
 * this repo (a plain systemd host): deploy ships its secrets only. An explicitly set
 * configDir that is missing stays an error.
 */
function withoutConfig(job: Pick<HostJob, "host" | "configDir">): boolean {
  return job.host.configDir === undefined && !existsSync(job.configDir);
}

/** The secrets the repo wants on a host. */
function wantedSecrets(loaded: LoadedRepo, host: string, bundle?: { secrets: { name: string; sha256: string }[] }): WantedSecret[] {
  const sha = new Map((bundle?.secrets ?? []).map((s) => [s.name, s.sha256]));
  return secretsForHost(loaded.repo, host).map((name) => {
    const s = loaded.repo.secrets[name]!;
    return { name, version: s.version, sha256: sha.get(name), owner: s.owner, group: s.group, mode: s.mode };
  });
}

function finish(io: CliIo, command: string, results: HostResult[], json: boolean): number {
  const failed = results.filter((r) => !r.ok);
  if (json) printJson(io, { command, ok: failed.length === 0, hosts: results });
  else {
    io.stderr.write(`nixseal: ${command}: ${results.length - failed.length} of ${results.length} host(s) ok\n`);
    for (const r of failed) {
      io.stderr.write(`nixseal: error: ${summaryLine(r)}\n`);
      for (const h of r.error?.hints ?? []) io.stderr.write(`nixseal: hint: ${h}\n`);
    }
  }
  return failed.length ? 1 : 0;
}

/** nixseal deploy. */
export async function runDeploy(
  io: CliIo,
  opts: RunOptions & { dryRun: boolean; secretsOnly: boolean; configOnly: boolean; upgrade: boolean },
  seams: Pick<DeployFlags, "onUploadedFile"> = {},
): Promise<number> {
  if (opts.secretsOnly && opts.configOnly) {
    throw new NixsealError("NIXSEAL_ERR_USAGE", "--secrets-only and --config-only exclude each other", { hints: ["pick one, or neither to deploy both"] });
  }
  const loaded = await openRepo(io.cwd);
  const names = selectHosts(loaded.repo, opts.hosts);
  const flags: DeployFlags = {
    secrets: !opts.configOnly,
    config: !opts.secretsOnly,
    upgrade: opts.upgrade,
    waitSeconds: opts.waitSeconds,
    sshKey: opts.sshKey,
    env: io.env,
    ...seams,
  };
  const work = await mkdtemp(join(tmpdir(), "nixseal-deploy-"));
  try {
    // Bundles hold ciphertext only; built up front so a repo problem stops before any host is touched.
    const jobs: (HostJob & { bundle?: Awaited<ReturnType<typeof writeHostBundle>> })[] = [];
    for (const name of names) {
      const job: HostJob & { bundle?: Awaited<ReturnType<typeof writeHostBundle>> } = { name, host: loaded.repo.hosts[name]!, configDir: hostConfigDir(loaded.dir, loaded.repo, name) };
      if (flags.config && flags.secrets && withoutConfig(job)) {
        job.noConfig = true;
        printWarning(io, `host "${name}" has no config dir (${relative(loaded.dir, job.configDir)}/): deploying its secrets only`);
      }
      if (flags.secrets) {
        job.bundleDir = join(work, name);
        job.bundle = await writeHostBundle(loaded, name, job.bundleDir);
        job.bundleId = job.bundle.id;
      }
      jobs.push(job);
    }
    const mode = viewMode(io, opts.json);
    if (opts.dryRun) {
      const results = await runAll(io, mode, jobs, opts.parallel, async (job, sink) => {
        const steps: StepRecord[] = [];
        const t0 = performance.now();
        try {
          const ssh = await recordStep(steps, sink, job.name, "connect", () => connectJob(job, flags));
          try {
            const view = await recordStep(steps, sink, job.name, "plan", () => readHostView(ssh, job.name));
            const secrets = flags.secrets ? diffSecrets(wantedSecrets(loaded, job.name, job.bundle), view.agent.status) : undefined;
            const config = flags.config && !job.noConfig ? await diffConfig(job.configDir, view.config) : undefined;
            const rebuild = flags.config && !job.noConfig ? describeRebuild({ hostName: job.name, command: job.host.rebuild, upgrade: flags.upgrade }, view.config.has("flake.nix")) : undefined;
            const lines = describeDiff(job.name, secrets, config, view.agent);
            if (rebuild) lines.push(`${job.name}:   would run: ${rebuild}`);
            if (!opts.json) for (const l of lines) io.stdout.write(l + "\n");
            return { host: job.name, ok: true, outcome: hasDrift(secrets, config) ? "would-change" : "up-to-date", steps, plan: { secrets, config, rebuild, agent: { ok: view.agent.ok, generation: view.agent.status?.current ?? null, error: view.agent.error } }, ms: Math.round(performance.now() - t0) };
          } finally {
            ssh.dispose();
          }
        } catch (err) {
          return { host: job.name, ok: false, outcome: "failed", steps, error: errorInfo(err), ms: Math.round(performance.now() - t0) };
        }
      });
      return finish(io, "deploy --dry-run", results, opts.json);
    }
    const results = await runAll(io, mode, jobs, opts.parallel, (job, sink) => deployHost(job, flags, sink));
    return finish(io, "deploy", results, opts.json);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** nixseal status: what each host runs against the repo. Exit 1 when a host drifts or cannot be read. */
export async function runStatus(io: CliIo, opts: RunOptions): Promise<number> {
  const loaded = await openRepo(io.cwd);
  const names = selectHosts(loaded.repo, opts.hosts);
  const jobs = names.map((name) => ({ name, host: loaded.repo.hosts[name]!, configDir: hostConfigDir(loaded.dir, loaded.repo, name) }));
  const flags = { sshKey: opts.sshKey, env: io.env };
  const lines = new Map<string, string[]>();
  const results = await runAll(io, "quiet", jobs, opts.parallel, async (job, sink) => {
    const steps: StepRecord[] = [];
    const t0 = performance.now();
    try {
      const ssh = await recordStep(steps, sink, job.name, "connect", () => connectJob(job, flags));
      try {
        const view = await recordStep(steps, sink, job.name, "status", () => readHostView(ssh, job.name));
        const secrets = view.agent.status ? diffSecrets(wantedSecrets(loaded, job.name), view.agent.status) : undefined;
        const config = withoutConfig(job) ? undefined : await diffConfig(job.configDir, view.config);
        lines.set(job.name, describeDiff(job.name, secrets, config, view.agent));
        const drift = hasDrift(secrets, config) || !view.agent.ok;
        return {
          host: job.name,
          ok: !drift,
          outcome: drift ? "drift" : "in-sync",
          steps,
          generation: view.agent.status?.current ?? null,
          plan: { agent: { ok: view.agent.ok, generation: view.agent.status?.current ?? null, previous: view.agent.status?.previous ?? null, error: view.agent.error }, secrets, config },
          ...(drift ? { error: { code: "NIXSEAL_ERR_DEPLOY_DRIFT", message: "the host differs from the repo", hints: [`"nixseal deploy ${job.name}" brings it in line`] } } : {}),
          ms: Math.round(performance.now() - t0),
        };
      } finally {
        ssh.dispose();
      }
    } catch (err) {
      lines.set(job.name, [`${job.name}: cannot read: ${errorInfo(err).message}`]);
      return { host: job.name, ok: false, outcome: "unreachable", steps, error: errorInfo(err), ms: Math.round(performance.now() - t0) };
    }
  });
  if (opts.json) printJson(io, { command: "status", ok: results.every((r) => r.ok), hosts: results });
  else for (const n of names) for (const l of lines.get(n) ?? []) io.stdout.write(l + "\n");
  return results.every((r) => r.ok) ? 0 : 1;
}

/** nixseal rollback HOST…: previous config and previous secrets, under the deploy lock. */
export async function runRollback(io: CliIo, opts: RunOptions & { secretsOnly: boolean; configOnly: boolean }): Promise<number> {
  const loaded = await openRepo(io.cwd);
  if (opts.hosts.length === 0) throw new NixsealError("NIXSEAL_ERR_USAGE", "name the host(s) to roll back", { hints: ["nixseal rollback HOST"] });
  const names = selectHosts(loaded.repo, opts.hosts);
  const jobs = names.map((name) => ({ name, host: loaded.repo.hosts[name]! }));
  const flags = { sshKey: opts.sshKey, env: io.env };
  const results = await runAll(io, viewMode(io, opts.json), jobs, opts.parallel, async (job, sink) => {
    const steps: StepRecord[] = [];
    const t0 = performance.now();
    const result: HostResult = { host: job.name, ok: false, outcome: "failed", steps, ms: 0 };
    let ssh;
    let lock;
    try {
      ssh = await recordStep(steps, sink, job.name, "connect", () => connectJob(job, flags));
      const conn = ssh;
      lock = await recordStep(steps, sink, job.name, "lock", () => takeLock(conn, job.name, opts.waitSeconds, (h) => sink.warn(job.name, `waiting for the deploy lock held by ${h}`)));
      const agent = new AgentClient(conn, job.name);
      if (!opts.configOnly) {
        await recordStep(steps, sink, job.name, "rollback-secrets", () => agentRollback(agent));
        result.generation = (await agentStatus(agent)).current;
      }
      if (!opts.secretsOnly) {
        await recordStep(steps, sink, job.name, "rollback-config", () => swapConfig(conn, job.name));
        result.rebuild = describeRebuild({ hostName: job.name, command: job.host.rebuild, upgrade: false }, false);
        await recordStep(steps, sink, job.name, "rebuild", () => runRebuild(conn, { hostName: job.name, command: job.host.rebuild, upgrade: false }, (c) => sink.output(job.name, c.trimEnd().split("\n").pop() ?? "")));
      }
      result.ok = true;
      result.outcome = "rolled-back";
    } catch (err) {
      result.error = errorInfo(err);
    } finally {
      await lock?.release().catch(() => undefined);
      ssh?.dispose();
    }
    result.ms = Math.round(performance.now() - t0);
    return result;
  });
  return finish(io, "rollback", results, opts.json);
}

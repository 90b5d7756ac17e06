// nixseal rollback HOST…: under the deploy lock, the agent goes back to its previous
// secrets generation, then /etc/nixos and its kept previous copy trade places and the
// rebuild runs.
import type { CliIo } from "../io.js";
import { openRepo } from "../repo/index.js";
import { AgentClient } from "./agent-client.js";
import { agentRollback, agentStatus } from "./agent-api.js";
import { swapConfig } from "./config.js";
import { connectJob, errorInfo, showUnits } from "./host-deploy.js";
import { finish, hostEntry, resolveKeyPath, type RunOptions, selectHosts } from "./hosts.js";
import { takeLock } from "./lock.js";
import { runAll, viewMode } from "./progress.js";
import { describeRebuild, runRebuild } from "./rebuild.js";
import { recordStep, type HostResult, type StepRecord } from "./steps.js";
import { usageError } from "../errors.js";

/** nixseal rollback HOST…: previous config and previous secrets, under the deploy lock. */
export async function runRollback(io: CliIo, opts: RunOptions & { secretsOnly: boolean; configOnly: boolean }): Promise<number> {
  const loaded = await openRepo(io.cwd);
  if (opts.hosts.length === 0) throw usageError("name the host(s) to roll back", ["nixseal rollback HOST"]);
  if (opts.secretsOnly && opts.configOnly) {
    throw usageError("--secrets-only and --config-only exclude each other", ["pick one, or neither to roll back both"]);
  }
  const names = selectHosts(loaded.repo, opts.hosts);
  const jobs = names.map((name) => ({ name, host: hostEntry(loaded, name, io.env) }));
  const flags = { sshKey: resolveKeyPath(opts.sshKey, io.cwd, io.env), env: io.env };
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
        const back = await recordStep(steps, sink, job.name, "rollback-secrets", () => agentRollback(agent));
        result.units = showUnits(job.name, sink, back.units.results);
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

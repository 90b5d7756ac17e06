// nixseal status: each host's agent and /etc/nixos against the repo.
import type { CliIo } from "../io.js";
import { printJson } from "../output.js";
import { hostConfigDir, openRepo } from "../repo/index.js";
import { describeDiff, diffConfig, diffSecrets, hasDrift, readHostView } from "./compare.js";
import { connectJob, errorInfo } from "./host-deploy.js";
import { hostEntry, resolveKeyPath, type RunOptions, selectHosts, wantedSecrets, withoutConfig } from "./hosts.js";
import { runAll } from "./progress.js";
import { recordStep, type StepRecord } from "./steps.js";

/** nixseal status: what each host runs against the repo. Exit 1 when a host drifts or cannot be read. */
export async function runStatus(io: CliIo, opts: RunOptions): Promise<number> {
  const loaded = await openRepo(io.cwd);
  const names = selectHosts(loaded.repo, opts.hosts);
  const jobs = names.map((name) => ({ name, host: hostEntry(loaded, name, io.env), configDir: hostConfigDir(loaded.dir, loaded.repo, name) }));
  const flags = { sshKey: resolveKeyPath(opts.sshKey, io.cwd, io.env), env: io.env };
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

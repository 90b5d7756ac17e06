// deploy --dry-run for one host: every check a deploy makes before it changes something
// (connection and pinned key, the deploy lock, the agent answering through the same
// forwarded socket, the agent's own check of the uploaded bundle: owners, groups,
// decryption, units, the system it is built for; the rebuild's program), all problems at
// once, and what would change. The uploaded bundle is removed again; nothing is staged.
import type { NodeSSH } from "node-ssh";
import { unitsFor, type BundleProblem, type UnitState } from "../../core/index.js";
import type { LoadedRepo } from "../repo/index.js";
import { agentCheck } from "./agent-api.js";
import { AgentClient } from "./agent-client.js";
import { describeDiff, diffConfig, diffSecrets, hasDrift, readHostView, type HostView, type SecretsDiff } from "./compare.js";
import { connectJob, errorInfo, unitAddedByRebuild, type DeployFlags, type HostJob } from "./host-deploy.js";
import { wantedSecrets } from "./hosts.js";
import { takeLock, type RemoteLock } from "./lock.js";
import { describeRebuild, rebuildAvailable, rebuildMissing } from "./rebuild.js";
import { recordStep, type HostResult, type ProgressSink, type StepRecord } from "./steps.js";
import { prepareStaging, removeStaging, uploadDir, type Staging } from "./upload.js";

/** One reason the deploy would fail, with what to do about it. */
type PlanProblem = BundleProblem & { hints?: string[] };

/** What the dry run found on one host (the `plan` of its --json entry). */
interface HostPlan {
  agent: { ok: boolean; generation: number | null; error?: string };
  secrets?: SecretsDiff;
  config?: Awaited<ReturnType<typeof diffConfig>>;
  rebuild?: string;
  /** The units the changed secrets would restart and reload. */
  units?: { restart: string[]; reload: string[] };
  /** What systemd on the host says of every unit the bundle names (from the agent's check). */
  unitStates?: UnitState[];
  problems: PlanProblem[];
  warnings: string[];
}

/**
 * Checks one host as its deploy would, and prints the plan (unless json) through out.
 * Never throws: ok is false when the deploy would fail, each reason in plan.problems.
 */
export async function planHost(job: HostJob & { bundle?: { secrets: { name: string; sha256: string }[] } }, flags: DeployFlags, loaded: LoadedRepo, sink: ProgressSink, out: (line: string) => void): Promise<HostResult> {
  const t0 = performance.now();
  const steps: StepRecord[] = [];
  const plan: HostPlan = { agent: { ok: false, generation: null }, problems: [], warnings: [] };
  const problem = (err: unknown) => {
    const e = errorInfo(err);
    plan.problems.push({ code: e.code, message: e.message, ...(e.hints.length ? { hints: e.hints } : {}) });
  };
  const doConfig = flags.config && !job.noConfig;
  let ssh: NodeSSH | undefined;
  let lock: RemoteLock | undefined;
  let staging: Staging | undefined;
  let agent: HostView["agent"] | undefined;
  try {
    ssh = await recordStep(steps, sink, job.name, "connect", () => connectJob(job, flags));
    const conn = ssh;
    // Under the lock, as the deploy: the staging dir is cleared and the host read in one piece.
    lock = await recordStep(steps, sink, job.name, "lock", () => takeLock(conn, job.name, flags.waitSeconds, (holder) => sink.warn(job.name, `waiting up to ${flags.waitSeconds}s for the deploy lock held by ${holder}`)));
    const view = await recordStep(steps, sink, job.name, "plan", () => readHostView(conn, job.name));
    agent = view.agent;
    plan.agent = { ok: agent.ok, generation: agent.status?.current ?? null, ...(agent.error ? { error: agent.error } : {}) };
    if (!agent.ok) plan.problems.push({ code: agent.code ?? "NIXSEAL_ERR_DEPLOY_AGENT", message: agent.error ?? "the agent does not answer", ...(agent.hints?.length ? { hints: agent.hints } : {}) });
    if (flags.secrets) {
      plan.secrets = diffSecrets(wantedSecrets(loaded, job.name, job.bundle), view.agent.status);
      plan.units = unitsFor([...plan.secrets.added, ...plan.secrets.changed.map((c) => c.name)].map((n) => loaded.repo.secrets[n]!));
    }
    if (doConfig) {
      plan.config = await diffConfig(job.configDir, view.config);
      plan.rebuild = describeRebuild({ hostName: job.name, command: job.host.rebuild, upgrade: flags.upgrade }, view.config.has("flake.nix") || (!("error" in plan.config) && [...plan.config.added].includes("flake.nix")));
      if (!(await rebuildAvailable(conn, { command: job.host.rebuild }))) problem(rebuildMissing({ hostName: job.name, command: job.host.rebuild }));
    }
    if (flags.secrets && job.bundleDir && view.agent.ok) {
      const bundleDir = job.bundleDir;
      staging = await recordStep(steps, sink, job.name, "upload", async () => {
        const s = await prepareStaging(conn, job.name);
        await uploadDir(conn, job.name, bundleDir, s.bundle);
        return s;
      });
      const dir = staging.bundle;
      // Shipped with its config, the bundle is checked against the system the rebuild builds next;
      // without one, every unit it names must already be on the host.
      const checked = await recordStep(steps, sink, job.name, "check", () =>
        agentCheck(new AgentClient(conn, job.name), { dir, requireUnits: !doConfig, ...(doConfig && job.nextSystem ? { nextSystem: job.nextSystem } : {}) }),
      );
      plan.problems.push(...checked.problems);
      plan.unitStates = checked.units;
      if (doConfig) for (const u of checked.units) if (!u.found) plan.warnings.push(unitAddedByRebuild(u.unit));
    }
  } catch (err) {
    problem(err);
  } finally {
    if (ssh?.isConnected() && staging) await removeStaging(ssh, staging);
    await lock?.release().catch(() => undefined);
    ssh?.dispose();
  }
  for (const l of planLines(job.name, plan, agent)) out(l);
  const ok = plan.problems.length === 0;
  return {
    host: job.name,
    ok,
    outcome: ok ? (hasDrift(plan.secrets, plan.config) ? "would-change" : "up-to-date") : "would-fail",
    steps,
    plan,
    ...(ok ? {} : { error: planError(job.name, plan.problems) }),
    ms: Math.round(performance.now() - t0),
  };
}

/** The plan as a person reads it: state and changes, then what would fail and warnings. */
function planLines(host: string, plan: HostPlan, agent: HostView["agent"] | undefined): string[] {
  // the agent's error is said once, as a problem below; unreached, the host has no state to show
  const lines = agent ? describeDiff(host, plan.secrets, plan.config, { ...agent, error: undefined }) : [];
  const { restart = [], reload = [] } = plan.units ?? {};
  const acts = [restart.length ? `restart ${restart.join(", ")}` : "", reload.length ? `reload ${reload.join(", ")}` : ""].filter(Boolean);
  if (acts.length) lines.push(`${host}:   would ${acts.join(", ")}`);
  if (plan.rebuild) lines.push(`${host}:   would run: ${plan.rebuild}`);
  for (const w of plan.warnings) lines.push(`${host}:   warning: ${w}`);
  for (const p of plan.problems) lines.push(`${host}:   would fail: ${p.message} [${p.code}]`);
  return lines;
}

/** The host's error in the summary: the one problem, or how many there are. */
function planError(host: string, problems: PlanProblem[]): { code: string; message: string; hints: string[] } {
  if (problems.length === 1) return { code: problems[0]!.code, message: problems[0]!.message, hints: problems[0]!.hints ?? [] };
  return {
    code: "NIXSEAL_ERR_DEPLOY_CHECK",
    message: `host "${host}": a deploy would fail, ${problems.length} problems (each listed above with its code)`,
    hints: [...new Set(problems.flatMap((p) => p.hints ?? []))],
  };
}

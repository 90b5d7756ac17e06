// `nixseal verify HOST`: reboot the host on purpose, wait for it, and prove from its
// agent's own check (nixseal-agent verify) that every secret of its current generation
// came back with its owner, group, mode and content before the units that use it
// started, without any deploy. --no-reboot checks the running host.
import type { NodeSSH } from "node-ssh";
import { NixsealError, ownerAndGroup, verifyReportSchema, type VerifyReport } from "../../core/index.js";
import { connectJob } from "../deploy/host-deploy.js";
import { hostEntry, resolveKeyPath, wantedSecrets } from "../deploy/hosts.js";
import { runRemote } from "../deploy/remote.js";
import type { CliIo } from "../io.js";
import { printInfo, printJson, printWarning } from "../output.js";
import { canPrompt, confirm } from "../prompt.js";
import { openRepo, type LoadedRepo } from "../repo/index.js";

export interface VerifyOptions {
  yes?: boolean;
  noReboot?: boolean;
  json?: boolean;
  sshKey?: string;
  /** Seconds to wait for the host to come back. */
  timeout: number;
}

type Job = { name: string; host: ReturnType<typeof hostEntry> };
type Flags = { sshKey?: string; env: Record<string, string | undefined> };

/** A remote step bounded in time: a host going down can leave a channel that never closes. */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NixsealError("NIXSEAL_ERR_VERIFY_TIMEOUT", `${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Connects within 30 s; a connection that completes after its time ran out is closed, or it would keep the process alive. */
function connectBounded(job: Job, flags: Flags): Promise<NodeSSH> {
  const pending = connectJob(job, flags);
  return bounded(pending, 30_000, "connecting").catch((err: unknown) => {
    pending.then((late) => late.dispose(), () => undefined);
    throw err;
  });
}

async function bootId(ssh: NodeSSH): Promise<string> {
  return (await bounded(runRemote(ssh, "cat /proc/sys/kernel/random/boot_id"), 20_000, "reading the boot id")).stdout.trim();
}

/** Asks before a reboot; --yes for scripts. */
async function mayReboot(io: CliIo, name: string, target: string, yes?: boolean): Promise<void> {
  if (yes) return;
  if (!canPrompt(io)) {
    throw new NixsealError("NIXSEAL_ERR_CONFIRM_REQUIRED", `not rebooting ${name} without confirmation (no terminal)`, {
      hints: ["run again with --yes to reboot it, or with --no-reboot to check the running host"],
    });
  }
  if (!(await confirm(io, `reboot ${name} (${target}) now to check that its secrets come back?`))) {
    throw new NixsealError("NIXSEAL_ERR_CONFIRM_REQUIRED", `${name} was not rebooted; nothing changed`, { hints: ["--no-reboot checks the running host"] });
  }
}

/** Reboots and waits until the host answers with a new boot id and systemd says the boot is done. */
async function rebootAndWait(io: CliIo, job: Job, flags: Flags, timeoutS: number): Promise<{ ssh: NodeSSH; seconds: number }> {
  const before = await connectBounded(job, flags);
  const oldBoot = await bootId(before);
  printInfo(io, `rebooting ${job.name} (boot ${oldBoot})`);
  const t0 = performance.now();
  // --no-block: queue the reboot and return; the connection dies with the host anyway.
  await bounded(runRemote(before, "systemctl --no-block reboot"), 20_000, "asking for the reboot").catch(() => undefined);
  before.dispose();
  const deadline = t0 + timeoutS * 1000;
  let last = "";
  while (performance.now() < deadline) {
    try {
      const ssh = await connectBounded(job, flags);
      try {
        if ((await bootId(ssh)) !== oldBoot) {
          // Blocks until the boot finished (running or degraded): every unit has had its start.
          await bounded(runRemote(ssh, "systemctl is-system-running --wait"), Math.max(1000, deadline - performance.now()), "waiting for the boot to finish");
          return { ssh, seconds: (performance.now() - t0) / 1000 };
        }
      } catch (err) {
        ssh.dispose();
        throw err;
      }
      ssh.dispose();
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 500)); // between connection attempts, not a synchronisation
  }
  throw new NixsealError("NIXSEAL_ERR_VERIFY_TIMEOUT", `${job.name} did not come back within ${timeoutS} s${last ? ` (last attempt: ${last})` : ""}`, {
    hints: ["look at its console; --timeout SECONDS to wait longer"],
  });
}

async function agentReport(ssh: NodeSSH, name: string): Promise<VerifyReport> {
  const r = await bounded(runRemote(ssh, "nixseal-agent verify --json"), 120_000, "nixseal-agent verify");
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new NixsealError("NIXSEAL_ERR_VERIFY_AGENT", `nixseal-agent verify on ${name} gave no report (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-3).join("; ") || "no output"}`, {
      hints: ["is a nixseal-agent of this version installed on the host and on its PATH?"],
    });
  }
  const checked = verifyReportSchema.safeParse(parsed);
  if (!checked.success) {
    throw new NixsealError("NIXSEAL_ERR_VERIFY_AGENT", `nixseal-agent verify on ${name} answered a report of another format`, { hints: ["install the same nixseal version on the host"] });
  }
  return checked.data;
}

/** Where the host's generation and the repo disagree (not a failure: verify checks what the host runs). */
function repoDrift(loaded: LoadedRepo, name: string, r: VerifyReport): string[] {
  const wanted = new Map(wantedSecrets(loaded, name).map((w) => [w.name, w]));
  const out: string[] = [];
  for (const s of r.secrets) {
    const w = wanted.get(s.name);
    if (!w) out.push(`${s.name} is no longer in the repo`);
    else if (w.version !== s.version || w.owner !== s.owner || w.group !== s.group || w.mode !== s.mode) out.push(`${s.name} differs from the repo (version or metadata)`);
    wanted.delete(s.name);
  }
  for (const n of wanted.keys()) out.push(`${n} is in the repo but not on the host`);
  return out;
}

/**
 * Runs the verification of one host.
 *
 * @returns 0 when every secret is back and in order, 1 otherwise (named)
 */
export async function runVerify(io: CliIo, name: string, opts: VerifyOptions): Promise<number> {
  const loaded = await openRepo(io.cwd);
  const job: Job = { name, host: hostEntry(loaded, name, io.env) };
  const flags: Flags = { sshKey: resolveKeyPath(opts.sshKey, io.cwd, io.env), env: io.env };
  let ssh: NodeSSH;
  let back: number | undefined;
  if (opts.noReboot) ssh = await connectBounded(job, flags);
  else {
    await mayReboot(io, name, job.host.target, opts.yes);
    ({ ssh, seconds: back } = await rebootAndWait(io, job, flags, opts.timeout));
  }
  let report: VerifyReport;
  try {
    report = await agentReport(ssh, name);
  } finally {
    ssh.dispose();
  }
  const drift = repoDrift(loaded, name, report);
  if (opts.json) printJson(io, { command: "verify", host: name, rebooted: !opts.noReboot, backAfterSeconds: back ?? null, repoDrift: drift, report });
  else {
    if (back !== undefined) printInfo(io, `${name} is back after ${back.toFixed(1)} s (boot ${report.bootId ?? "?"})`);
    const lines: string[] = [];
    for (const p of report.problems) lines.push(`FAIL ${p}`);
    for (const s of report.secrets) lines.push(s.ok ? `ok    ${s.name}  ${ownerAndGroup(s.owner, s.group)} ${s.mode}  content matches generation ${report.generation}` : `FAIL  ${s.name}: ${s.problems.join("; ")}`);
    for (const c of report.consumers) lines.push(c.ok ? `ok    ${c.unit}  ${c.startedMonotonicUs ? "started after its keys" : `not started (${c.activeState})`}` : `FAIL  ${c.unit}: ${c.problem}`);
    io.stdout.write(lines.join("\n") + (lines.length ? "\n" : ""));
    if (report.restore) printInfo(io, `the boot restore${report.restore.sameBoot ? "" : " (of an earlier boot)"} took ${report.restore.durationMs} ms for ${report.secrets.length} secret${report.secrets.length === 1 ? "" : "s"}`);
  }
  for (const d of drift) printWarning(io, `${d}: the host runs generation ${report.generation ?? "-"}; deploy to bring it in line`);
  if (report.ok) {
    if (!opts.json) printInfo(io, `verified ${name}: every secret of generation ${report.generation} is back, before the units that use it`);
    return 0;
  }
  const bad = [...report.secrets.filter((s) => !s.ok).map((s) => s.name), ...report.consumers.filter((c) => !c.ok).map((c) => c.unit)];
  throw new NixsealError("NIXSEAL_ERR_VERIFY_FAILED", `${name} did not pass: ${[...report.problems, ...bad].join(", ")}`, {
    hints: [`"nixseal-agent status" on ${name} says why each secret failed; a unit that started too early needs After=/Requires= on its key (neededBy on NixOS)`],
  });
}

import type { UnitAction } from "../../core/index.js";

/** Steps of one host's deploy, in order, as the progress view names them. */
type StepName =
  | "connect"
  | "lock"
  | "upload"
  | "stage"
  | "config"
  | "activate"
  | "rebuild"
  | "restore-config"
  | "restore-secrets"
  | "rebuild-previous"
  | "reconnect"
  | "plan"
  | "check"
  | "status"
  | "rollback-config"
  | "rollback-secrets";

export const STEP_TITLES: Record<StepName, string> = {
  connect: "connect (pinned host key)",
  lock: "take the deploy lock",
  upload: "upload config and bundle",
  stage: "agent stages the bundle",
  config: "install config into /etc/nixos",
  activate: "activate secrets",
  rebuild: "rebuild",
  "restore-config": "put back the previous /etc/nixos",
  "restore-secrets": "put back the previous secrets generation",
  "rebuild-previous": "rebuild on the previous config",
  reconnect: "reconnect to put back the previous state",
  plan: "compare with the host",
  check: "agent checks the bundle",
  status: "read the host's state",
  "rollback-config": "roll /etc/nixos back",
  "rollback-secrets": "roll secrets back",
};

/** Receives live progress from one or more host runs. */
export interface ProgressSink {
  step(host: string, step: StepName, detail?: string): void;
  output(host: string, line: string): void;
  warn(host: string, message: string): void;
}

/** What happened to one step. */
export interface StepRecord {
  step: StepName;
  ok: boolean;
  ms: number;
  detail?: string;
}

/** One host's outcome, as --json prints it. */
export interface HostResult {
  host: string;
  ok: boolean;
  /** deployed | unchanged | failed | rolled-back | planned */
  outcome: string;
  steps: StepRecord[];
  generation?: number | null;
  previousGeneration?: number | null;
  config?: { files: number; hash: string };
  rebuild?: string;
  /** Each restart and reload after the secrets switched, with its result. */
  units?: UnitAction[];
  /** Set after a failure: what was put back. */
  restored?: {
    config: "restored" | "untouched" | "failed";
    secrets: "restored" | "untouched" | "failed";
    /** The rebuild run again on the restored config (when the failed one may have switched). */
    rebuild?: "ok" | "failed";
  };
  plan?: unknown;
  error?: { code: string; message: string; hints: string[] };
  ms: number;
}

/** Runs fn as one recorded step. */
export async function recordStep<T>(steps: StepRecord[], sink: ProgressSink, host: string, step: StepName, fn: () => Promise<T>, detail?: (r: T) => string | undefined): Promise<T> {
  sink.step(host, step);
  const t0 = performance.now();
  try {
    const r = await fn();
    const d = detail?.(r);
    steps.push({ step, ok: true, ms: Math.round(performance.now() - t0), ...(d ? { detail: d } : {}) });
    return r;
  } catch (err) {
    steps.push({ step, ok: false, ms: Math.round(performance.now() - t0) });
    throw err;
  }
}

// GET /metrics: Prometheus text exposition from the status report. Labels carry
// secret names only.
import type { StatusReport } from "../../core/agent-api.js";

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Renders the metrics text (format 0.0.4). */
export function renderMetrics(s: StatusReport, activations: { ok: number; failed: number }): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, rows: Array<[string, number]>, type = "gauge") => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) lines.push(`${name}${labels} ${v}`);
  };
  gauge("nixseal_agent_up", "1 while the agent answers.", [["", 1]]);
  gauge("nixseal_agent_current_generation", "The current generation number (0 when none).", [["", s.current ?? 0]]);
  gauge("nixseal_agent_generations", "Generations stored on disk.", [["", s.generations.length]]);
  gauge(
    "nixseal_agent_secret_ok",
    "1 when the secret is in place, 0 when its last run failed or its file is missing.",
    s.secrets.map((x) => [`{name="${esc(x.name)}"}`, x.ok !== false && x.present ? 1 : 0]),
  );
  gauge("nixseal_agent_secrets_failed", "Secrets of the current generation not in place.", [["", s.secrets.filter((x) => x.ok === false || !x.present).length]]);
  gauge("nixseal_agent_runs_total", "Restores, activations, rollbacks and imports recorded on this host, by result.", [
    ['{result="ok"}', activations.ok],
    ['{result="failed"}', activations.failed],
  ], "counter");
  if (s.lastRun) {
    gauge("nixseal_agent_last_run_timestamp_seconds", "When the last run finished.", [["", Math.floor(Date.parse(s.lastRun.at) / 1000)]]);
    gauge("nixseal_agent_last_run_duration_seconds", "How long the last run took.", [["", s.lastRun.durationMs / 1000]]);
    gauge("nixseal_agent_last_run_ok", "1 when the last run put every secret in place.", [["", s.lastRun.ok ? 1 : 0]]);
  }
  gauge("nixseal_agent_memory_fs_noswap", "1 when the run dir is ramfs or tmpfs with noswap.", [["", s.memoryFs.noswap ? 1 : 0]]);
  return lines.join("\n") + "\n";
}

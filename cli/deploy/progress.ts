// How a multi-host run shows itself: a live listr2 view on a TTY, plain lines otherwise,
// nothing but the final JSON with --json. All of it on stderr; stdout is for data.
import { unitActionShort } from "../../core/index.js";
import type { CliIo } from "../io.js";
import { STEP_TITLES, type HostResult, type ProgressSink } from "./steps.js";

/** Runs one host's work with a sink for its progress. */
type HostRunner<J> = (job: J, sink: ProgressSink) => Promise<HostResult>;

/** How to show progress. */
type ViewMode = "live" | "plain" | "quiet";

/** Picks the view: quiet for --json, live on a TTY, plain lines otherwise. */
export function viewMode(io: CliIo, json: boolean): ViewMode {
  if (json) return "quiet";
  return io.stderr.isTTY && io.env.TERM !== "dumb" && io.env.CI === undefined ? "live" : "plain";
}

/** One line summing up a host's result. */
export function summaryLine(r: HostResult): string {
  if (r.ok) {
    const bits = [r.outcome];
    if (r.generation) bits.push(`secrets generation ${r.generation}`);
    for (const a of r.units ?? []) bits.push(unitActionShort(a));
    if (r.config) bits.push(`config ${r.config.files} files`);
    if (r.rebuild) bits.push(`"${r.rebuild}" ok`);
    return `${r.host}: ${bits.join(", ")} (${(r.ms / 1000).toFixed(1)}s)`;
  }
  const rb = r.restored?.rebuild ? `, rebuild on previous config ${r.restored.rebuild}` : "";
  const put = r.restored ? ` [config ${r.restored.config}, secrets ${r.restored.secrets}${rb}]` : "";
  return `${r.host}: FAILED: ${r.error?.message ?? "unknown error"}${put}`;
}

/**
 * Runs every job, at most `parallel` at once, and returns the results in job order.
 * A failed host never stops the others.
 */
export async function runAll<J extends { name: string }>(io: CliIo, mode: ViewMode, jobs: J[], parallel: number, run: HostRunner<J>): Promise<HostResult[]> {
  const results = new Map<string, HostResult>();
  if (mode === "live") {
    // listr2 only for the live view: a plain or --json run (and every other command) skips its load.
    const { Listr, ProcessOutput } = await import("listr2");
    const list = new Listr(
      jobs.map((job) => ({
        title: job.name,
        task: async (_ctx: unknown, task: { title: string; output: string }) => {
          const sink: ProgressSink = {
            step: (_h, s) => (task.title = `${job.name}: ${STEP_TITLES[s]}`),
            output: (_h, line) => (task.output = line.slice(0, 200)),
            warn: (_h, m) => (task.output = `warning: ${m}`),
          };
          const r = await run(job, sink);
          results.set(job.name, r);
          task.title = summaryLine(r);
          if (!r.ok) throw new Error(summaryLine(r));
        },
      })),
      {
        concurrent: Math.max(1, parallel),
        exitOnError: false,
        collectErrors: false,
        renderer: "default",
        // the mode was already chosen from io.stderr; the view goes to stderr, stdout stays for data
        fallbackRendererCondition: false,
        rendererOptions: {
          collapseErrors: false,
          formatOutput: "truncate",
          processOutput: new ProcessOutput(io.stderr as NodeJS.WriteStream, io.stderr as NodeJS.WriteStream),
        },
      } as never,
    );
    await list.run().catch(() => undefined);
  } else {
    const say = (line: string) => {
      if (mode === "plain") io.stderr.write(`nixseal: ${line}\n`);
    };
    const sink: ProgressSink = {
      step: (h, s) => say(`${h}: ${STEP_TITLES[s]}`),
      output: (h, line) => say(`${h}:   ${line.slice(0, 200)}`),
      warn: (h, m) => say(`${h}: warning: ${m}`),
    };
    await pool(jobs, Math.max(1, parallel), async (job) => {
      const r = await run(job, sink);
      results.set(job.name, r);
      say(summaryLine(r));
    });
  }
  return jobs.map((j) => results.get(j.name)!);
}

/** A small promise pool: at most n in flight. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/**
 * Shared helpers for benchmarks: each compares nixseal against its baseline
 * (usually the age CLI loop agenix runs) in the same run and reports the ratio.
 */
export interface BenchResult {
  name: string;
  /** What nixseal's side did. */
  subject: string;
  /** What the baseline did. */
  baseline: string;
  /** nixseal's median (ms, or MB for a memory result). */
  subjectMs: number;
  /** The baseline's median, same unit. */
  baselineMs: number;
  /** Goal ratio (baseline / nixseal) from the issue, if any. */
  target?: number;
  /** Fastest and slowest run of each side, same unit. */
  ranges?: { subject: [number, number]; baseline: [number, number] };
  /** "MB": a memory result (smaller is better; 0 means nothing resident). Default "ms". */
  unit?: "ms" | "MB";
  /** An absolute goal for nixseal's median, in the result's unit (e.g. a latency under 400 ms). */
  below?: number;
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Fastest and slowest of a list. */
export function range(xs: number[]): [number, number] {
  return [Math.min(...xs), Math.max(...xs)];
}

/** Runs fn n times and returns the median wall time in ms. */
export async function timeMedian(n: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Whether a result meets its goals (true when it has none). */
export function meetsGoals(r: BenchResult): boolean {
  if (r.below !== undefined && !(r.subjectMs < r.below)) return false;
  if (r.target !== undefined && !(r.subjectMs === 0 || r.baselineMs / r.subjectMs >= r.target)) return false;
  return true;
}

/** One line per result: ratio first, then both medians (and ranges). */
export function formatResult(r: BenchResult): string {
  const unit = r.unit ?? "ms";
  const fix = (x: number) => (unit === "MB" ? x.toFixed(1) : x.toFixed(1));
  const span = (k: "subject" | "baseline") => (r.ranges ? ` (${fix(r.ranges[k][0])}-${fix(r.ranges[k][1])})` : "");
  const goals: string[] = [];
  if (r.target !== undefined) goals.push(`goal >=${r.target}x`);
  if (r.below !== undefined) goals.push(`goal < ${r.below} ${unit}`);
  const verdict = goals.length ? `  (${goals.join(", ")}: ${meetsGoals(r) ? "met" : "MISSED"})` : "";
  const head =
    unit === "MB"
      ? r.subjectMs === 0
        ? `${r.name}: nothing resident (0 MB) against ${fix(r.baselineMs)} MB for ${r.baseline}`
        : `${r.name}: ${(r.baselineMs / r.subjectMs).toFixed(1)}x less memory than ${r.baseline}`
      : r.baselineMs >= r.subjectMs
        ? `${r.name}: ${(r.baselineMs / r.subjectMs).toFixed(1)}x faster than ${r.baseline}`
        : `${r.name}: ${(r.subjectMs / r.baselineMs).toFixed(1)}x SLOWER than ${r.baseline}`;
  return `${head}${verdict}\n    nixseal ${fix(r.subjectMs)} ${unit}${span("subject")}, baseline ${fix(r.baselineMs)} ${unit}${span("baseline")} (medians; ${r.subject})`;
}

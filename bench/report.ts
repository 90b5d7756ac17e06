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
  subjectMs: number;
  baselineMs: number;
  /** Target ratio from the issue, if any. */
  target?: number;
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
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

/** One line per result: ratio first, then both times. */
export function formatResult(r: BenchResult): string {
  const ratio = r.baselineMs / r.subjectMs;
  const verdict = r.target === undefined ? "" : ratio >= r.target ? `  (target >=${r.target}x: met)` : `  (target >=${r.target}x: MISSED)`;
  return `${r.name}: ${ratio.toFixed(1)}x faster than ${r.baseline}${verdict}\n    nixseal ${r.subjectMs.toFixed(1)} ms, baseline ${r.baselineMs.toFixed(1)} ms (${r.subject})`;
}

// Waiting on a condition with a deadline: the harness's only way to synchronise with a
// machine (no fixed sleeps).
import { setTimeout as delay } from "node:timers/promises";

/** What a condition returns once it holds. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

/** Thrown by a condition to stop waiting at once (the awaited thing can no longer happen). */
export class StopWaiting extends Error {}

export interface WaitOptions {
  /** Give up after this many ms (default 30 000). */
  timeoutMs?: number;
  /** Pause between two checks (default 50 ms): a polling interval, not a synchronisation. */
  intervalMs?: number;
  /** What is awaited, for the timeout error ("host a to answer ssh"). */
  what?: string;
}

/**
 * Polls `cond` until it returns a truthy value (returned) or the deadline passes (throws,
 * with the last error `cond` threw, if any).
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  opts: WaitOptions | number = {},
): Promise<Truthy<T>> {
  const o = typeof opts === "number" ? { timeoutMs: opts } : opts;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const interval = o.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as Truthy<T>;
    } catch (e) {
      if (e instanceof StopWaiting) throw e;
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: last error: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${o.what ?? "a condition"}${why}`);
    }
    await delay(Math.min(interval, Math.max(1, deadline - Date.now())));
  }
}

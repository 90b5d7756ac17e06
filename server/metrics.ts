// GET /metrics: Prometheus text exposition (format 0.0.4) of what the server counts.
// Labels carry routes, statuses, refusal reasons and storage operations; never a host
// key, a token or a bundle's content.
import type { Store } from "./store/types.js";

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** The server's counters. */
export class ServerMetrics {
  readonly requests = new Map<string, number>();
  readonly authFailures = new Map<string, number>();
  readonly storage = new Map<string, { count: number; seconds: number; errors: number }>();
  bundlesServed = 0;
  bundlesPushed = 0;

  countRequest(method: string, route: string, status: number): void {
    const k = `method="${esc(method)}",route="${esc(route)}",status="${status}"`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  countAuthFailure(reason: string): void {
    this.authFailures.set(reason, (this.authFailures.get(reason) ?? 0) + 1);
  }

  /** Renders every metric; longPollsOpen is read when asked. */
  render(longPollsOpen: number): string {
    const lines: string[] = [];
    const metric = (name: string, help: string, type: string, rows: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of rows) lines.push(`${name}${labels ? `{${labels}}` : ""} ${v}`);
    };
    metric("nixseal_server_requests_total", "Requests answered, by method, route and status.", "counter", [...this.requests]);
    metric("nixseal_server_auth_failures_total", "Requests refused before they were authenticated, by reason.", "counter", [...this.authFailures].map(([r, n]) => [`reason="${esc(r)}"`, n]));
    metric("nixseal_server_bundles_served_total", "Bundles sent to hosts (and operators).", "counter", [["", this.bundlesServed]]);
    metric("nixseal_server_bundles_pushed_total", "Bundles stored.", "counter", [["", this.bundlesPushed]]);
    metric("nixseal_server_long_polls_open", "Requests waiting for a newer bundle now.", "gauge", [["", longPollsOpen]]);
    const ops = [...this.storage];
    lines.push("# HELP nixseal_server_storage_seconds Time spent in storage operations, by operation.", "# TYPE nixseal_server_storage_seconds summary");
    for (const [op, s] of ops) lines.push(`nixseal_server_storage_seconds_sum{op="${esc(op)}"} ${s.seconds}`, `nixseal_server_storage_seconds_count{op="${esc(op)}"} ${s.count}`);
    metric("nixseal_server_storage_errors_total", "Storage operations that failed.", "counter", ops.map(([op, s]) => [`op="${esc(op)}"`, s.errors]));
    return lines.join("\n") + "\n";
  }
}

/** The store with every operation timed into metrics (storage latency). */
export function timedStore(store: Store, metrics: ServerMetrics): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function" || prop === "onBundle" || prop === "constructor") return typeof value === "function" ? value.bind(target) : value;
      const op = String(prop);
      return async (...args: unknown[]) => {
        const start = process.hrtime.bigint();
        let s = metrics.storage.get(op);
        if (!s) metrics.storage.set(op, (s = { count: 0, seconds: 0, errors: 0 }));
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (err) {
          s.errors++;
          throw err;
        } finally {
          s.count++;
          s.seconds += Number(process.hrtime.bigint() - start) / 1e9;
        }
      };
    },
  });
}

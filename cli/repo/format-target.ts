import type { Target } from "./validate.js";

/** address:port for messages (IPv6 in brackets). */
export function host(t: Target): string {
  return `${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}`;
}

// `nixseal audit --server URL [--host H] [--json]`: the server's audit log, newest
// first: who pushed which bundle for which host, which host fetched what and when, and
// the refused attempts. The log never holds a value or a token.
import type { Command } from "commander";
import { hostName } from "../../core/index.js";
import { printJson } from "../output.js";
import { openServer, serverOptions } from "../server/client.js";
import { intOption } from "./deploy.js";
import type { CommandContext } from "./context.js";
import { usageError } from "../errors.js";

interface AuditEvent {
  seq: number;
  at: string;
  actor: string;
  action: string;
  host?: string;
  bundle?: string;
  sequence?: number;
  detail?: string;
  remote?: string;
}

/** One event as a line: when, who, what, for which host. */
function auditLine(e: AuditEvent): string {
  const what = [e.action, e.host, e.bundle ? `${e.bundle.slice(0, 16)}` : undefined, e.sequence !== undefined ? `#${e.sequence}` : undefined].filter(Boolean).join(" ");
  return [e.at, e.actor, what, e.detail ? `(${e.detail})` : "", e.remote ? `from ${e.remote}` : ""].filter(Boolean).join("  ");
}

export function registerAudit(program: Command, ctx: CommandContext): void {
  serverOptions(program.command("audit").description("read a nixseal server's audit log: pushes, fetches and refused attempts, newest first"))
    .option("--host <name>", "only events about this host")
    .option("-n, --limit <n>", "events to show", intOption("--limit", 1), 50)
    .option("--json", "print the events as JSON")
    .action(async (o: { server: string; signKey?: string; tokenFile?: string; host?: string; limit: number; json?: boolean }) => {
      if (o.host !== undefined && !hostName.safeParse(o.host).success) {
        throw usageError(`--host "${o.host}" is not a host name`, ['list the hosts with "nixseal host list"']);
      }
      const client = await openServer(ctx.io, o);
      const q = new URLSearchParams({ limit: String(Math.min(o.limit, 1000)), ...(o.host ? { host: o.host } : {}) });
      const reply = (await client.call("GET", `v1/audit?${q}`)) as { events?: AuditEvent[] } | null;
      const events = reply?.events ?? [];
      if (o.json) printJson(ctx.io, { command: "audit", events });
      else for (const e of events) ctx.io.stdout.write(auditLine(e) + "\n");
    });
}

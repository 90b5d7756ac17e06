// `nixseal fleet --server URL [--json] [--link]`: what the server knows of each host:
// the bundle it should run against the one it last fetched, when, and refused attempts.
// --link prints a one-time link (valid for two minutes) that opens the fleet page in a
// browser session.
import type { Command } from "commander";
import { printJson } from "../output.js";
import { openServer, serverOptions } from "../server/client.js";
import type { CommandContext } from "./context.js";

interface HostReport {
  name: string;
  state: string;
  head?: { id: string; sequence: number; pushedAt: string };
  lastFetch?: { id: string; sequence: number; at: string };
  refused: number;
}

export function registerFleet(program: Command, ctx: CommandContext): void {
  serverOptions(program.command("fleet").description("show what a nixseal server knows of each host (should run vs last fetched), or open its fleet page"))
    .option("--link", "print a one-time link to the fleet page (valid for two minutes)")
    .option("--json", "print the report as JSON")
    .action(async (o: { server: string; signKey?: string; tokenFile?: string; link?: boolean; json?: boolean }) => {
      const client = await openServer(ctx.io, o);
      if (o.link) {
        const r = (await client.call("POST", "v1/fleet/links", {})) as { path: string; expiresAt: string };
        const url = new URL(r.path.replace(/^\//, ""), client.server).toString();
        if (o.json) printJson(ctx.io, { command: "fleet", url, expiresAt: r.expiresAt });
        else ctx.io.stdout.write(url + "\n");
        return;
      }
      const report = (await client.call("GET", "v1/fleet")) as { hosts: HostReport[] };
      if (o.json) return printJson(ctx.io, { command: "fleet", ...report });
      const rows = report.hosts.map((h) => [
        h.name,
        h.state,
        h.head ? `#${h.head.sequence} ${h.head.id.slice(0, 12)}` : "-",
        h.lastFetch ? `#${h.lastFetch.sequence} ${h.lastFetch.id.slice(0, 12)} at ${h.lastFetch.at}` : "-",
        String(h.refused),
      ]);
      const all = [["HOST", "STATE", "SHOULD RUN", "LAST FETCHED", "REFUSED"], ...rows];
      const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
      for (const r of all) ctx.io.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd() + "\n");
    });
}

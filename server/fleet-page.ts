// The fleet page: the fleet report as one HTML page with no script, and its style sheet.
// Served only to a browser session that an operator opened with a one-time link
// (POST /v1/fleet/links); every text is escaped, and the page's CSP allows nothing but
// its own style sheet.
import type { FleetReport, HostState } from "./fleet-report.js";

function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STATE_TEXT: Record<HostState, string> = {
  current: "up to date",
  behind: "behind",
  "never-fetched": "never fetched",
  "no-bundle": "no bundle pushed",
};

const short = (id: string | undefined) => (id ? id.slice(0, 12) : "");
const when = (iso: string | undefined) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "");

/** The page for a report. */
export function renderFleetPage(r: FleetReport, now = new Date()): string {
  const counts = new Map<HostState, number>();
  for (const h of r.hosts) counts.set(h.state, (counts.get(h.state) ?? 0) + 1);
  const summary = (["current", "behind", "never-fetched", "no-bundle"] as HostState[])
    .filter((s) => counts.get(s))
    .map((s) => `<span class="pill ${s}">${counts.get(s)} ${esc(STATE_TEXT[s])}</span>`)
    .join(" ");
  const rows = r.hosts
    .map(
      (h) => `<tr class="${h.state}">
  <td class="name">${esc(h.name)}</td>
  <td><span class="pill ${h.state}">${esc(STATE_TEXT[h.state])}</span></td>
  <td class="mono">${h.head ? `#${h.head.sequence} ${esc(short(h.head.id))}` : ""}</td>
  <td>${esc(when(h.head?.pushedAt))}</td>
  <td class="mono">${h.lastFetch ? `#${h.lastFetch.sequence} ${esc(short(h.lastFetch.id))}` : ""}</td>
  <td>${esc(when(h.lastFetch?.at))}</td>
  <td class="num">${h.refused || ""}</td>
  <td class="mono small">${esc(h.fingerprint)}</td>
</tr>`,
    )
    .join("\n");
  const refused = r.refused
    .map((e) => `<tr><td>${esc(when(e.at))}</td><td>${esc(e.actor)}</td><td>${esc(e.host ?? "")}</td><td>${esc(e.detail ?? "")}</td><td class="mono">${esc(e.remote ?? "")}</td></tr>`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nixseal fleet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/fleet/style.css"></head>
<body>
<header><h1>nixseal fleet</h1><p>${r.hosts.length} hosts ${summary}</p>
<p class="small">${r.fleet ? `fleet state pushed ${esc(when(r.fleet.pushedAt))} by ${esc(r.fleet.by)}; admins: ${r.fleet.admins.map((a) => esc(a.name)).join(", ") || "none"}` : "no fleet state pushed yet"} · page made ${esc(when(now.toISOString()))}</p></header>
<main>
<table id="hosts"><thead><tr><th>host</th><th>state</th><th>should run</th><th>pushed</th><th>last fetched</th><th>fetched at</th><th>refused</th><th>host key</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="8">no hosts</td></tr>'}
</tbody></table>
<h2>Refused attempts</h2>
<table id="refused"><thead><tr><th>when</th><th>as</th><th>host</th><th>why</th><th>from</th></tr></thead>
<tbody>
${refused || '<tr><td colspan="5">none recently</td></tr>'}
</tbody></table>
</main></body></html>
`;
}

export const FLEET_PAGE_CSS = `
body { font: 14px/1.4 "DejaVu Sans", sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 12px 24px; }
header h1 { margin: 0 0 4px; font-size: 20px; }
header p { margin: 2px 0; }
main { padding: 16px 24px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; white-space: nowrap; padding: 6px 10px; border-bottom: 1px solid #e2e5ea; }
th { background: #eceff3; font-weight: 600; }
.mono { font-family: "DejaVu Sans Mono", monospace; }
.small { font-size: 12px; color: #6b7280; }
header .small { color: #c7ccd6; }
.num { text-align: right; }
.name { font-weight: 600; }
.pill { display: inline-block; white-space: nowrap; padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; }
.pill.current { background: #2f855a; }
.pill.behind { background: #c05621; }
.pill.never-fetched { background: #6b7280; }
.pill.no-bundle { background: #9ca3af; }
`;

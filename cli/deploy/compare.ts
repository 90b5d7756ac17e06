// What a host runs against what the repo says: the body of --dry-run and `nixseal status`.
import type { NodeSSH } from "node-ssh";
import { AgentClient } from "./agent-client.js";
import type { SecretStatus, StatusReport } from "../../core/index.js";
import { agentHealth, agentStatus } from "./agent-api.js";
import { diffListings, localConfigListing, remoteConfigListing, type ConfigListing } from "./config.js";
import { errorInfo } from "./host-deploy.js";

/** What a comparison reads of each secret the agent reports. */
type ReportedSecret = Pick<SecretStatus, "name" | "version" | "owner" | "group" | "mode"> & Partial<Pick<SecretStatus, "sha256" | "ok" | "error">>;

/** What the repo wants on one host, per secret. */
export interface WantedSecret {
  name: string;
  version: number;
  sha256?: string;
  owner: string;
  /** Absent: the owner's primary group. */
  group?: string;
  mode: string;
}

/** Secrets: what would change / what drifted. */
export interface SecretsDiff {
  added: string[];
  changed: { name: string; from?: number; to: number; why: string }[];
  removed: string[];
  failing: { name: string; error: string }[];
  unchanged: string[];
}

/** The host side of a comparison. */
export interface HostView {
  /** code and hints: the error's, when the agent did not answer. */
  agent: { ok: boolean; error?: string; code?: string; hints?: string[]; status?: StatusReport };
  config: ConfigListing;
}

/** Reads the agent's health and status and the /etc/nixos listing. */
export async function readHostView(ssh: NodeSSH, hostName: string): Promise<HostView> {
  const client = new AgentClient(ssh, hostName);
  let agent: HostView["agent"];
  try {
    const ok = await agentHealth(client);
    agent = { ok, status: await agentStatus(client) };
  } catch (err) {
    const e = errorInfo(err);
    agent = { ok: false, error: e.message, code: e.code, hints: e.hints };
  }
  return { agent, config: await remoteConfigListing(ssh) };
}

/** Compares the wanted secrets with what the agent reports. */
export function diffSecrets(wanted: WantedSecret[], status: { secrets: readonly ReportedSecret[] } | undefined): SecretsDiff {
  const have = new Map((status?.secrets ?? []).map((s) => [s.name, s]));
  const d: SecretsDiff = { added: [], changed: [], removed: [], failing: [], unchanged: [] };
  for (const w of wanted) {
    const h = have.get(w.name);
    if (!h) {
      d.added.push(w.name);
      continue;
    }
    const why: string[] = [];
    if (h.version !== undefined && h.version !== w.version) why.push(`version ${h.version} -> ${w.version}`);
    if (w.sha256 && h.sha256 && h.sha256 !== w.sha256 && why.length === 0) why.push("ciphertext differs");
    if (h.owner !== undefined && h.owner !== w.owner) why.push(`owner ${h.owner} -> ${w.owner}`);
    if ((h.group ?? null) !== (w.group ?? null)) why.push(`group ${h.group ?? "(the owner's)"} -> ${w.group ?? "(the owner's)"}`);
    if (h.mode !== undefined && normMode(h.mode) !== normMode(w.mode)) why.push(`mode ${h.mode} -> ${w.mode}`);
    if (why.length) d.changed.push({ name: w.name, from: h.version, to: w.version, why: why.join(", ") });
    else d.unchanged.push(w.name);
    if (h.ok === false) d.failing.push({ name: w.name, error: h.error ?? "not materialised" });
  }
  const wantedNames = new Set(wanted.map((w) => w.name));
  d.removed = [...have.keys()].filter((n) => !wantedNames.has(n)).sort();
  return d;
}

function normMode(m: string | number): string {
  return (typeof m === "number" ? m.toString(8) : m).replace(/^0+/, "");
}

/** Compares a local config dir with /etc/nixos (null when the config dir is missing). */
export async function diffConfig(configDir: string, remote: ConfigListing): Promise<ReturnType<typeof diffListings> | { error: string }> {
  try {
    return diffListings(remote, await localConfigListing(configDir));
  } catch (err) {
    return { error: errorInfo(err).message };
  }
}

/** Human lines for a plan or a status. */
export function describeDiff(host: string, secrets: SecretsDiff | undefined, config: Awaited<ReturnType<typeof diffConfig>> | undefined, agent: HostView["agent"]): string[] {
  const lines: string[] = [];
  lines.push(`${host}: agent ${agent.ok ? `healthy, generation ${agent.status?.current ?? "none"}` : `NOT answering${agent.error ? ` (${agent.error})` : ""}`}`);
  if (secrets && !agent.status) lines.push(`${host}:   secrets: unknown (the agent did not answer)`);
  else if (secrets) {
    for (const n of secrets.added) lines.push(`${host}:   secret ${n}: missing on the host (would be added)`);
    for (const c of secrets.changed) lines.push(`${host}:   secret ${c.name}: ${c.why}`);
    for (const n of secrets.removed) lines.push(`${host}:   secret ${n}: on the host, not in the repo (would be removed)`);
    for (const f of secrets.failing) lines.push(`${host}:   secret ${f.name}: FAILING on the host: ${f.error}`);
    if (!secrets.added.length && !secrets.changed.length && !secrets.removed.length) lines.push(`${host}:   secrets: ${secrets.unchanged.length} up to date`);
  }
  if (config) {
    if ("error" in config) lines.push(`${host}:   config: ${config.error}`);
    else {
      for (const f of config.added) lines.push(`${host}:   /etc/nixos/${f}: new`);
      for (const f of config.changed) lines.push(`${host}:   /etc/nixos/${f}: changed`);
      for (const f of config.removed) lines.push(`${host}:   /etc/nixos/${f}: removed`);
      if (!config.added.length && !config.changed.length && !config.removed.length) lines.push(`${host}:   config: /etc/nixos matches`);
    }
  }
  return lines;
}

/** Whether a comparison shows any difference. */
export function hasDrift(secrets: SecretsDiff | undefined, config: Awaited<ReturnType<typeof diffConfig>> | undefined): boolean {
  const s = secrets ? secrets.added.length + secrets.changed.length + secrets.removed.length + secrets.failing.length > 0 : false;
  const c = config ? ("error" in config ? true : config.added.length + config.changed.length + config.removed.length > 0) : false;
  return s || c;
}

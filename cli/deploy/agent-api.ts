// What deploy reads from the agent's replies, normalised so small shape differences
// (generation as number or string, nesting) do not leak through the deploy code.
import { NixsealError } from "../../core/index.js";
import type { AgentClient } from "./agent-client.js";

/** One secret as the agent reports it (never a value). */
export interface AgentSecretStatus {
  name: string;
  version?: number;
  sha256?: string;
  owner?: string;
  group?: string;
  mode?: string;
  ok?: boolean;
  error?: string;
}

/** The agent's view of the host. */
export interface AgentStatus {
  current: string | null;
  previous: string | null;
  secrets: AgentSecretStatus[];
  raw: unknown;
}

function genId(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string" || typeof v === "number") return String(v);
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    return genId(o.generation ?? o.id ?? null);
  }
  return null;
}

/** GET /status, normalised. */
export async function agentStatus(agent: AgentClient): Promise<AgentStatus> {
  const raw = await agent.get<Record<string, unknown>>("/status");
  const r = (raw ?? {}) as Record<string, any>;
  const current = genId(r.current ?? r.currentGeneration ?? r.generation);
  const previous = genId(r.previous ?? r.previousGeneration);
  const list: unknown[] = Array.isArray(r.secrets) ? r.secrets : Array.isArray(r.current?.secrets) ? r.current.secrets : [];
  const secrets = list.map((s) => {
    const o = s as Record<string, any>;
    return {
      name: String(o.name),
      version: typeof o.version === "number" ? o.version : undefined,
      sha256: typeof o.sha256 === "string" ? o.sha256 : undefined,
      owner: o.owner,
      group: o.group,
      mode: o.mode,
      ok: typeof o.ok === "boolean" ? o.ok : o.error ? false : undefined,
      error: typeof o.error === "string" ? o.error : undefined,
    } satisfies AgentSecretStatus;
  });
  return { current, previous, secrets, raw };
}

/** POST /stage {dir}: the agent checks the uploaded bundle; returns the pending generation. */
export async function agentStage(agent: AgentClient, dir: string): Promise<string> {
  const r = await agent.post("/stage", { dir });
  const g = genId(r);
  if (g === null) throw new Error("the agent's /stage reply names no generation");
  return g;
}

/** POST /activate {generation}. */
export async function agentActivate(agent: AgentClient, generation: string): Promise<void> {
  const r = await agent.post<ActivationReply>("/activate", { generation: /^\d+$/.test(generation) ? Number(generation) : generation });
  failedSecrets(r, `activate generation ${generation}`);
}

/** What activate and rollback answer: per secret, names and error codes only. */
interface ActivationReply {
  ok?: boolean;
  secrets?: { name: string; ok: boolean; code?: string; error?: string }[];
}

/** A reply with ok:false (some secret not materialised) becomes an error naming them. */
function failedSecrets(r: ActivationReply | undefined, what: string): void {
  if (r?.ok !== false) return;
  const bad = (r.secrets ?? []).filter((s) => !s.ok).map((s) => `${s.name} (${s.code ?? "failed"}${s.error ? `: ${s.error}` : ""})`);
  throw new NixsealError("NIXSEAL_ERR_DEPLOY_AGENT", `${what}: the agent could not put every secret in place: ${bad.join(", ") || "see nixseal-agent status on the host"}`, {
    hints: ["run \"nixseal-agent status\" on the host for details"],
  });
}

/** POST /rollback: back to the previous generation. */
export async function agentRollback(agent: AgentClient): Promise<void> {
  failedSecrets(await agent.post<ActivationReply>("/rollback", {}), "roll back secrets");
}

/** GET /health: true when the agent answers healthy. */
export async function agentHealth(agent: AgentClient): Promise<{ ok: boolean; raw: unknown }> {
  const raw = await agent.get<Record<string, unknown>>("/health");
  const r = (raw ?? {}) as Record<string, unknown>;
  const ok = r.ok === true || r.status === "ok" || r.healthy === true || (r.ok === undefined && r.status === undefined && r.healthy === undefined);
  return { ok, raw };
}

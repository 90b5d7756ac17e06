// Deploy's calls to the host agent's API, typed by core/agent-api.ts (the shapes the
// agent answers with). A reply that says a secret is not in place becomes an error.
import {
  AGENT_ROUTES,
  NixsealError,
  type ActivateRequest,
  type ActivationReply,
  type CheckReply,
  type CheckRequest,
  type HealthReply,
  type StageReply,
  type StageRequest,
  type StatusReport,
} from "../../core/index.js";
import type { AgentClient } from "./agent-client.js";

/** GET /status. */
export function agentStatus(agent: AgentClient): Promise<StatusReport> {
  return agent.get<StatusReport>(AGENT_ROUTES.status);
}

/**
 * POST /stage {dir, requireUnits}: the agent checks the uploaded bundle (every problem at
 * once) and stores it as the pending generation. requireUnits: refuse a unit the host
 * does not have (a deploy without a config could not add it).
 */
export function agentStage(agent: AgentClient, dir: string, requireUnits: boolean): Promise<StageReply> {
  return agent.post<StageReply>(AGENT_ROUTES.stage, { dir, requireUnits } satisfies StageRequest);
}

/** POST /check: what /stage would say of the uploaded bundle, storing nothing (--dry-run). */
export function agentCheck(agent: AgentClient, req: CheckRequest): Promise<CheckReply> {
  return agent.post<CheckReply>(AGENT_ROUTES.check, req);
}

/**
 * POST /activate {generation, nextSystem?}. nextSystem: the digest of the generated
 * file this deploy installed into /etc/nixos, which the rebuild right after builds.
 */
export async function agentActivate(agent: AgentClient, generation: number, nextSystem?: string): Promise<ActivationReply> {
  const r = await agent.post<ActivationReply>(AGENT_ROUTES.activate, { generation, ...(nextSystem ? { nextSystem } : {}) } satisfies ActivateRequest);
  failedSecrets(r, `activate generation ${generation}`);
  return r;
}

/** A reply with ok:false (some secret not materialised) becomes an error naming them. */
function failedSecrets(r: ActivationReply, what: string): void {
  if (r.ok) return;
  const bad = r.secrets.filter((s) => !s.ok).map((s) => `${s.name} (${s.code ?? "failed"}${s.error ? `: ${s.error}` : ""})`);
  throw new NixsealError("NIXSEAL_ERR_DEPLOY_AGENT", `${what}: the agent could not put every secret in place: ${bad.join(", ") || "see nixseal-agent status on the host"}`, {
    hints: ["run \"nixseal-agent status\" on the host for details"],
  });
}

/** POST /rollback: back to the previous generation. */
export async function agentRollback(agent: AgentClient): Promise<ActivationReply> {
  const r = await agent.post<ActivationReply>(AGENT_ROUTES.rollback, {});
  failedSecrets(r, "roll back secrets");
  return r;
}

/** GET /health: true when the agent answers healthy. */
export async function agentHealth(agent: AgentClient): Promise<boolean> {
  return (await agent.get<HealthReply>(AGENT_ROUTES.health)).ok === true;
}

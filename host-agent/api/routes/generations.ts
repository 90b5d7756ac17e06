import type { FastifyInstance } from "fastify";
import { AGENT_ROUTES, type ActivateRequest, type ActivationReply, type CheckReply, type CheckRequest, type StageReply, type StageRequest } from "../../../core/agent-api.js";
import type { InstallOutcome } from "../../generations/install-generation.js";
import { activateBody, checkBody, stageBody } from "./bodies.js";

/** The reply to activate and rollback: results per secret (names and error codes only). */
function activationReply(out: InstallOutcome): ActivationReply {
  return {
    ok: out.results.every((r) => r.ok),
    generation: out.generation,
    runGeneration: out.runGeneration,
    changed: out.changed,
    units: out.units,
    pruned: out.pruned,
    warnings: out.warnings,
    secrets: out.results.map(({ name, ok, changed, code, error }) => ({ name, ok, changed, ...(ok ? {} : { code, error }) })),
  };
}

/**
 * POST /stage, /check, /activate, /rollback.
 *
 * @param log - the service log: warnings reach the journal as well as the reply (deploy shows the reply)
 */
export async function generationRoutes(app: FastifyInstance, { log }: { log: (line: string) => void }): Promise<void> {
  const logged = <T extends { warnings: string[] }>(out: T): T => {
    for (const w of out.warnings) log(`warning: ${w}`);
    return out;
  };
  app.post<{ Body: StageRequest; Reply: StageReply }>(AGENT_ROUTES.stage, async (req) => {
    const body = stageBody(req.body);
    return logged(await app.agent.stage(body.dir, body.requireUnits));
  });
  app.post<{ Body: CheckRequest; Reply: CheckReply }>(AGENT_ROUTES.check, async (req) => {
    const body = checkBody(req.body);
    return app.agent.check(body.dir, { nextSystem: body.nextSystem, requireUnits: body.requireUnits });
  });
  app.post<{ Body: ActivateRequest; Reply: ActivationReply }>(AGENT_ROUTES.activate, async (req) => {
    const body = activateBody(req.body);
    return activationReply(logged(await app.agent.activate(body.generation, body.nextSystem)));
  });
  app.post<{ Reply: ActivationReply }>(AGENT_ROUTES.rollback, async () => activationReply(logged(await app.agent.rollback())));
}

import type { FastifyInstance, FastifyRequest } from "fastify";
import { AGENT_ROUTES, type ActivateRequest, type ActivationReply, type CheckReply, type CheckRequest, type StageReply, type StageRequest } from "../../../core/agent-api.js";
import type { InstallOutcome } from "../../generations/install-generation.js";

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

/** Warnings reach the journal as well as the reply (deploy shows the reply). */
function logged<T extends { warnings: string[] }>(req: FastifyRequest, out: T): T {
  for (const w of out.warnings) req.log.warn(w);
  return out;
}

/** POST /stage, /check, /activate, /rollback. */
export async function generationRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Body: StageRequest; Reply: StageReply }>(
    AGENT_ROUTES.stage,
    {
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["dir"],
          properties: { dir: { type: "string", pattern: "^/[^\\u0000]*$", maxLength: 4096 }, requireUnits: { type: "boolean" } },
        },
      },
    },
    async (req) => logged(req, await app.agent.stage(req.body.dir, req.body.requireUnits)),
  );
  app.post<{ Body: CheckRequest; Reply: CheckReply }>(
    AGENT_ROUTES.check,
    {
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["dir"],
          properties: {
            dir: { type: "string", pattern: "^/[^\\u0000]*$", maxLength: 4096 },
            nextSystem: { type: "string", pattern: "^sha256:[0-9a-f]{64}$" },
            requireUnits: { type: "boolean" },
          },
        },
      },
    },
    async (req) => app.agent.check(req.body.dir, { nextSystem: req.body.nextSystem, requireUnits: req.body.requireUnits }),
  );
  app.post<{ Body: ActivateRequest; Reply: ActivationReply }>(
    AGENT_ROUTES.activate,
    {
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["generation"],
          properties: {
            generation: { type: "integer", minimum: 1, maximum: 999999999 },
            // deploy with a config: the digest of the generated file it installed, which the rebuild that follows is built from
            nextSystem: { type: "string", pattern: "^sha256:[0-9a-f]{64}$" },
          },
        },
      },
    },
    async (req) => activationReply(logged(req, await app.agent.activate(req.body.generation, req.body.nextSystem))),
  );
  app.post<{ Reply: ActivationReply }>(AGENT_ROUTES.rollback, async (req) => activationReply(logged(req, await app.agent.rollback())));
}

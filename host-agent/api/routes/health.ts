import type { FastifyInstance } from "fastify";
import { AGENT_ROUTES, type HealthReply } from "../../../core/agent-api.js";
import { linkedGeneration } from "../../generations/store.js";

/** GET /health: liveness plus the current generation. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get(AGENT_ROUTES.health, async (): Promise<HealthReply> => ({
    ok: true,
    status: "ok",
    current: linkedGeneration(app.agent.config.stateDir, "current") ?? null,
    uptimeSeconds: Math.round((Date.now() - app.agent.startedAt) / 1000),
  }));
}

import type { FastifyInstance } from "fastify";
import { AGENT_ROUTES } from "../../../core/agent-api.js";
import { renderMetrics } from "../metrics.js";

/** GET /status (names, owners, modes, versions, hashes, results; never a value) and GET /metrics. */
export async function statusRoutes(app: FastifyInstance): Promise<void> {
  app.get(AGENT_ROUTES.status, async () => app.agent.status());
  app.get(AGENT_ROUTES.metrics, async (_req, reply) => {
    reply.type("text/plain; version=0.0.4; charset=utf-8");
    return renderMetrics(await app.agent.status(), app.agent.runs());
  });
}

import type { FastifyInstance } from "fastify";
import { linkedGeneration } from "../../generations/store.js";

/** GET /health: liveness plus the current generation. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get("/health", async () => ({
    ok: true,
    status: "ok",
    current: linkedGeneration(app.agent.config.stateDir, "current") ?? null,
    uptimeSeconds: Math.round((Date.now() - app.agent.startedAt) / 1000),
  }));
}

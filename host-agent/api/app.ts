// buildAgent(): the agent's Fastify app. It never listens (serve.ts does, on the unix
// socket); tests drive it with inject(). One error handler: catalogue errors answer
// with their code, status and hints; anything unexpected is logged and answered with
// a body that reveals nothing.
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { errorBody, NixsealError, type ErrorBody } from "../../core/errors.js";
import type { AgentConfig } from "../config/defaults.js";
import { errors, statusOf } from "../errors.js";
import { agentStatePlugin } from "./plugins/agent-state.js";
import { generationRoutes } from "./routes/generations.js";
import { healthRoutes } from "./routes/health.js";
import { statusRoutes } from "./routes/status.js";

export interface BuildAgentOptions {
  config: AgentConfig;
  /** Fastify logger setting (default off; `serve` logs to the journal). */
  logger?: boolean | { level: string };
}

/** Builds the app; the caller listens (or injects). */
export async function buildAgent(opts: BuildAgentOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: opts.logger ?? false });
  await app.register(agentStatePlugin, { config: opts.config });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let body: ErrorBody;
    let status: number;
    if (err.validation) {
      [status, body] = [400, errorBody(errors.badRequest([err.message]))];
    } else if (err instanceof NixsealError && err.code !== "NIXSEAL_ERR_INTERNAL") {
      [status, body] = [statusOf(err), errorBody(err)];
    } else if (typeof err.statusCode === "number" && err.statusCode < 500 && typeof err.code === "string" && err.code.startsWith("FST_")) {
      [status, body] = [err.statusCode, errorBody(errors.badRequest([err.message]))];
    } else {
      req.log.error({ code: err.code, message: err.message }, "unexpected error");
      [status, body] = [500, errorBody(errors.internal([]))];
    }
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    return reply.code(404).send(errorBody(errors.notFound([`${req.method} ${req.url.split("?")[0]}`])));
  });
  await app.register(healthRoutes);
  await app.register(statusRoutes);
  await app.register(generationRoutes);
  return app;
}

// buildAgent(): the agent's Fastify app. It never listens (serve.ts does, on the unix
// socket); tests drive it with inject(). One error handler: catalogue errors answer
// with their code, status and hints; anything unexpected is logged and answered with
// a body that reveals nothing.
//
// The agent starts on a deploy's first connection, so its start is paid by every deploy:
// no JSON-schema compilers (ajv, fast-json-stringify: request bodies are two fields,
// checked in routes/bodies.ts) and no pino (one log line per request, to the journal).
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
  /** Where request and error lines go (default: nowhere; `serve` logs to the journal). */
  log?: (line: string) => void;
}

/** Stands in for Fastify's schema compilers: no route has a schema, and loading them costs each start. */
function noCompiler(): () => never {
  return () => {
    throw errors.internal([]);
  };
}

/** Builds the app; the caller listens (or injects). */
export async function buildAgent(opts: BuildAgentOptions): Promise<FastifyInstance> {
  const log = opts.log ?? (() => {});
  const app = Fastify({ logger: false, schemaController: { compilersFactory: { buildValidator: noCompiler, buildSerializer: noCompiler } } });
  await app.register(agentStatePlugin, { config: opts.config });
  app.addHook("onResponse", async (req, reply) => log(`${req.method} ${req.url.split("?")[0]} ${reply.statusCode} (${Math.round(reply.elapsedTime)} ms)`));
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let body: ErrorBody;
    let status: number;
    if (err instanceof NixsealError && err.code !== "NIXSEAL_ERR_INTERNAL") {
      [status, body] = [statusOf(err), errorBody(err)];
    } else if (typeof err.statusCode === "number" && err.statusCode < 500 && typeof err.code === "string" && err.code.startsWith("FST_")) {
      [status, body] = [err.statusCode, errorBody(errors.badRequest([err.message]))];
    } else {
      log(`${req.method} ${req.url.split("?")[0]}: unexpected error${typeof err.code === "string" ? ` ${err.code}` : ""}: ${err.message}`);
      [status, body] = [500, errorBody(errors.internal([]))];
    }
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    return reply.code(404).send(errorBody(errors.notFound([`${req.method} ${req.url.split("?")[0]}`])));
  });
  await app.register(healthRoutes);
  await app.register(statusRoutes);
  await app.register(generationRoutes, { log });
  return app;
}

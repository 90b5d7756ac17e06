// buildServer(): the nixseal server's Fastify app. It never listens (main.ts does) and
// never decrypts: it holds no keys, only tokens. Tests drive it with inject().
//
//   GET  /v1/health                       liveness
//   PUT  /v1/hosts/:host/bundles          operator token; store a bundle (and the operator's
//                                         signature over it, which agents check), answer its id
//   GET  /v1/hosts/:host/bundles/latest   the host's latest bundle
//   GET  /v1/hosts/:host/bundles/:id      one bundle by id
//
// One error handler: catalogue errors below 500 answer with their code, message and
// hints; everything else is logged (code and message only) and answered with a body
// that reveals nothing. Request bodies are never logged.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { NixsealError, hostName } from "../core/index.js";
import { Token, requireToken } from "./auth.js";
import { checkPushedBundle, type PushBody } from "./check-bundle.js";
import { errorBody, serverErrors } from "./errors.js";
import { BundleStore, type StoredBundle } from "./storage.js";

/** 16 MiB: hundreds of secrets; a larger bundle needs --body-limit. */
export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

export interface BuildServerOptions {
  /** Where bundles are stored (created if absent). */
  storageDir: string;
  /** The operator's token: needed to push. */
  operatorToken: string;
  /** Host name to that host's read token. When set, every read needs a token: the host's own or the operator's. */
  hostTokens?: Record<string, string>;
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
  /** Fastify logger setting (default off). */
  logger?: FastifyServerOptions["logger"];
}

/** What GET answers: the manifest and every file it names, base64. */
export interface BundleReply {
  id: string;
  host: string;
  pushedAt: string;
  manifest: StoredBundle["manifest"];
  files: Record<string, string>;
  signature?: StoredBundle["signature"];
}

function replyOf(b: StoredBundle): BundleReply {
  const files = Object.fromEntries([...b.files].map(([k, v]) => [k, v.toString("base64")]));
  return { id: b.id, host: b.host, pushedAt: b.pushedAt, manifest: b.manifest, files, ...(b.signature ? { signature: b.signature } : {}) };
}

const BUNDLE_ID = /^[0-9a-f]{64}$/;

function hostParam(req: FastifyRequest): string {
  const host = (req.params as { host: string }).host;
  if (!hostName.safeParse(host).success) throw serverErrors.badRequest(["the host in the path is not a valid host name (1-63 lowercase letters, digits and -)"]);
  return host;
}

/** Errors Fastify raises before a handler runs, with messages that never echo the body. */
function fastifyError(err: FastifyError, bodyLimit: number): NixsealError & { statusCode: number } {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return serverErrors.bodyTooLarge([bodyLimit]);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return Object.assign(serverErrors.badRequest(["send the body as Content-Type: application/json"]), { statusCode: 415 });
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return serverErrors.badRequest(["the body is empty"]);
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return serverErrors.badRequest(["the body is not valid JSON"]);
    default:
      return Object.assign(serverErrors.badRequest([`refused (${err.code})`]), { statusCode: err.statusCode ?? 400 });
  }
}

/** Builds the app; the caller listens (or injects). */
export async function buildServer(opts: BuildServerOptions): Promise<FastifyInstance> {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const store = new BundleStore(opts.storageDir);
  await store.init();
  const operator = new Token(opts.operatorToken);
  const hostTokens = opts.hostTokens ? new Map(Object.entries(opts.hostTokens).map(([h, t]) => [h, new Token(t)])) : undefined;

  // Strict request schemas: no silent type coercion, no silently dropped keys.
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit, ajv: { customOptions: { coerceTypes: false, removeAdditional: false } } });
  app.removeContentTypeParser("text/plain"); // JSON only: anything else is a 415
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let e: NixsealError & { statusCode?: number };
    if (err.validation) e = serverErrors.badRequest([err.message]);
    else if (err instanceof NixsealError && typeof (err as { statusCode?: number }).statusCode === "number") e = err;
    else if (typeof err.code === "string" && err.code.startsWith("FST_") && (err.statusCode ?? 500) < 500) e = fastifyError(err, bodyLimit);
    else e = serverErrors.internal([]);
    const status = e.statusCode ?? 500;
    if (status >= 500) {
      // Details go to the log only: the code and message (paths, OS errors), never a body.
      req.log.error({ code: err.code, err: { message: err.message } }, "unexpected error");
      e = serverErrors.internal([]);
    }
    if (status === 401) reply.header("www-authenticate", 'Bearer realm="nixseal"');
    return reply.code(status >= 500 ? 500 : status).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = serverErrors.routeNotFound([`${req.method} ${req.url.split("?")[0]}`]);
    return reply.code(404).send(errorBody(e));
  });

  const mayRead = async (req: FastifyRequest): Promise<void> => {
    if (!hostTokens) return;
    const host = hostParam(req);
    requireToken(req, [operator, hostTokens.get(host)], `reading the bundles of ${host}`);
  };

  app.get("/v1/health", async () => ({ ok: true }));

  app.put<{ Body: PushBody }>(
    "/v1/hosts/:host/bundles",
    {
      // Before the body is read: an unauthenticated client cannot make the server parse megabytes.
      onRequest: async (req) => requireToken(req, [operator], "pushing a bundle"),
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["manifest", "files"],
          properties: {
            manifest: { type: "object" },
            files: { type: "object", additionalProperties: { type: "string" } },
            signature: {
              type: "object",
              additionalProperties: false,
              required: ["key", "sig"],
              properties: { key: { type: "string", pattern: "^ssh-ed25519 [A-Za-z0-9+/=]+$", maxLength: 200 }, sig: { type: "string", pattern: "^[A-Za-z0-9+/]{86}==$" } },
            },
          },
        },
      },
    },
    async (req, reply: FastifyReply) => {
      const host = hostParam(req);
      const { manifest, files } = checkPushedBundle(host, req.body);
      const saved = await store.saveBundle(manifest, files, req.body.signature);
      req.log.info({ host, id: saved.id, created: saved.created, secrets: manifest.secrets.length, signed: Boolean(req.body.signature) }, "bundle stored");
      return reply.code(saved.created ? 201 : 200).send({ id: saved.id, host, created: saved.created, pushedAt: saved.pushedAt });
    },
  );

  app.get("/v1/hosts/:host/bundles/latest", { onRequest: mayRead }, async (req) => {
    const host = hostParam(req);
    const b = await store.latest(host);
    if (!b) throw serverErrors.noBundle([host]);
    return replyOf(b);
  });

  app.get("/v1/hosts/:host/bundles/:id", { onRequest: mayRead }, async (req) => {
    const host = hostParam(req);
    const id = (req.params as { id: string }).id;
    if (!BUNDLE_ID.test(id)) throw serverErrors.badRequest(["a bundle id is 64 lowercase hex digits"]);
    const b = await store.readBundle(host, id);
    if (!b) throw serverErrors.bundleNotFound([host, id]);
    return replyOf(b);
  });

  return app;
}

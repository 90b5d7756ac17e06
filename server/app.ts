// buildServer(): the nixseal server's Fastify app. It never listens (main.ts does) and
// never decrypts: it holds no keys but public ones. Tests drive it with inject() and
// over loopback. Routes (docs/server.md):
//
//   GET  /v1/health                        liveness, no auth
//   PUT  /v1/fleet                         operator: the fleet state (host keys, admin keys)
//   GET  /v1/fleet                         operator: each host's head, last fetch, refusals
//   POST /v1/fleet/links                   operator: a one-time link that opens the fleet page
//   GET  /v1/audit                         operator: the audit log, newest first
//   GET  /v1/heads                         operator: each host's head (what nixseal push numbers from)
//   POST /v1/bundles                       operator: store many hosts' bundles at once (per-host results)
//   PUT  /v1/hosts/:host/bundles           operator: store one bundle with the next sequence
//   GET  /v1/hosts/:host/bundles/latest    the host itself or an operator; ?after=N&wait=S long-polls
//   GET  /v1/hosts/:host/bundles/:id       the host itself or an operator
//   GET  /metrics                          operator: Prometheus text
//   GET  /fleet, /fleet/login, /fleet/style.css   the fleet page (a browser session)
//
// Authentication runs in onRequest, before the body is read (server/auth.ts); the body
// parser then checks a signed request's body against its signed hash. One error handler:
// catalogue errors below 500 answer with their code, message and hints; everything else
// is logged (code and message only) and answered with a body that reveals nothing.
// Request bodies are never logged.
import { createHash, randomBytes } from "node:crypto";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { NixsealError, hostName, validate } from "../core/index.js";
import { dearmorSshsig, parseSshsig } from "../core/keys/sshsig.js";
import { fleetStateSchema, type FleetState } from "../core/schema/fleet.js";
import { verifyBundleSignature } from "../core/bundle-signing.js";
import { Authenticator, Refusal, type Principal } from "./auth.js";
import { checkPushedBundle, type PushBody } from "./check-bundle.js";
import { errorBody, serverErrors } from "./errors.js";
import { FLEET_PAGE_CSS, renderFleetPage } from "./fleet-page.js";
import { fleetReport } from "./fleet-report.js";
import { parseJsonBody } from "./json-body.js";
import { LongPolls } from "./long-poll.js";
import { ServerMetrics, timedStore } from "./metrics.js";
import { FileStore } from "./store/file.js";
import { SequenceConflict, type AuditEvent, type BundleHead, type BundleToSave, type Store, type StoredBundle } from "./store/types.js";

/** 16 MiB: hundreds of secrets; a larger bundle needs --body-limit. */
export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;
/** A request's time may differ from the server's clock by this much. */
export const DEFAULT_MAX_SKEW_SECONDS = 60;
/** Bundles in one POST /v1/bundles (nixseal push sends fewer, and splits by size too). */
export const MAX_BATCH_BUNDLES = 1000;
/** The longest a long-poll waits before it answers 204. */
export const MAX_WAIT_SECONDS = 300;
const LOGIN_LINK_SECONDS = 120;
const SESSION_SECONDS = 12 * 3600;
const SESSION_COOKIE = "nixseal_fleet";
/** Refused requests recorded in the audit log per client address per minute (the metrics count them all). */
const REFUSED_AUDIT_PER_MINUTE = 60;

export interface BuildServerOptions {
  /** The store; or storageDir for the embedded file store (opened and closed with the app). */
  store?: Store;
  storageDir?: string;
  /** The operator token: may do everything an admin key may (automation). */
  operatorToken?: string;
  /** Admin keys accepted besides those of the pushed fleet state (the first push needs one, or the token). */
  adminKeys?: Array<{ name: string; key: string }>;
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
  maxSkewSeconds?: number;
  /** Whole request (headers and body) must arrive within this (slow clients are cut off). */
  requestTimeoutMs?: number;
  /** Headers must arrive within this. */
  headersTimeoutMs?: number;
  /** Fastify logger setting (default off). */
  logger?: FastifyServerOptions["logger"];
}

/** What a bundle GET answers: the manifest and every file it names, base64. */
export interface BundleReply {
  id: string;
  host: string;
  sequence: number;
  pushedAt: string;
  manifest: StoredBundle["manifest"];
  files: Record<string, string>;
  signature?: string;
}

/** One bundle's outcome in a POST /v1/bundles reply, in the order sent. */
export type PushResult =
  | { host: string; ok: true; id: string; sequence: number; created: boolean; pushedAt: string }
  | { host: string; ok: false; status: number; code: string; message: string; hints: string[] };

type Access = "public" | "operator" | "reader" | "session";

/** The JSON schema of one pushed bundle (PUT body, POST item). */
const PUSH_BODY_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["manifest", "files"],
  properties: {
    manifest: { type: "object" },
    files: { type: "object", additionalProperties: { type: "string" } },
    signature: { type: "string", maxLength: 12000 },
  },
} as const;

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
    signedBodySha256: string | undefined;
  }
}

function replyOf(b: StoredBundle): BundleReply {
  const files = Object.fromEntries([...b.files].map(([k, v]) => [k, v.toString("base64")]));
  return { id: b.id, host: b.host, sequence: b.sequence, pushedAt: b.pushedAt, manifest: b.manifest, files, ...(b.signature ? { signature: b.signature } : {}) };
}

const BUNDLE_ID = /^[0-9a-f]{64}$/;

function hostParam(req: FastifyRequest): string {
  return (req.params as { host: string }).host;
}

/** Validates path parameters before anything else: a bad name is a 400 for everyone. */
function checkParams(req: FastifyRequest): void {
  const p = (req.params ?? {}) as { host?: string; id?: string };
  if (p.host !== undefined && !hostName.safeParse(p.host).success) throw serverErrors.badRequest(["the host in the path is not a valid host name (1-63 lowercase letters, digits and -)"]);
  if (p.id !== undefined && p.id !== "latest" && !BUNDLE_ID.test(p.id)) throw serverErrors.badRequest(["a bundle id is 64 lowercase hex digits"]);
}

function whole(name: string, v: unknown, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^\d{1,15}$/.test(v) || Number(v) > max) throw serverErrors.badRequest([`?${name} wants a whole number from 0 to ${max}`]);
  return Number(v);
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

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function cookie(req: FastifyRequest, name: string): string | undefined {
  const h = req.headers.cookie;
  if (typeof h !== "string") return undefined;
  for (const part of h.split(";")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === name && v && /^[A-Za-z0-9_-]{20,100}$/.test(v)) return v;
  }
  return undefined;
}

const PAGE_HEADERS = {
  "content-security-policy": "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** Builds the app; the caller listens (or injects). */
export async function buildServer(opts: BuildServerOptions): Promise<FastifyInstance> {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!opts.store && !opts.storageDir) throw new Error("buildServer needs a store or a storageDir");
  const ownStore = opts.store ? undefined : new FileStore(opts.storageDir!);
  if (ownStore) await ownStore.init();
  const metrics = new ServerMetrics();
  const store = timedStore(opts.store ?? ownStore!, metrics);
  const auth = new Authenticator({ store, operatorToken: opts.operatorToken, bootstrapAdmins: opts.adminKeys ?? [], maxSkewSeconds: opts.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS });
  const polls = new LongPolls();
  const unsubscribe = store.onBundle((host) => polls.wake(host));
  const refusedAudited = new Map<string, number>();
  const refusedWindow = setInterval(() => refusedAudited.clear(), 60_000);
  refusedWindow.unref();

  // Strict request schemas: no silent type coercion, no silently dropped keys.
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    // Node checks these timeouts every connectionsCheckingInterval (30 s by default):
    // a slow client holding connections open is cut off within a second of its limit.
    http: { headersTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout / 2) },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  } as FastifyServerOptions);
  app.decorateRequest("principal", null);
  app.decorateRequest("signedBodySha256", undefined);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer, req.signedBodySha256));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addHook("onClose", async () => {
    unsubscribe();
    clearInterval(refusedWindow);
    polls.wake("*");
    if (ownStore) await ownStore.close();
  });

  const event = (req: FastifyRequest, e: Omit<AuditEvent, "at" | "remote">): AuditEvent => ({ at: new Date().toISOString(), remote: req.ip, ...e });
  const audit = async (req: FastifyRequest, e: Omit<AuditEvent, "at" | "remote">): Promise<void> => {
    await store.audit([event(req, e)], e.action === "push-bundle" || e.action === "push-fleet");
  };

  const refuse = async (req: FastifyRequest, reason: string, err: Error): Promise<never> => {
    metrics.countAuthFailure(reason);
    const seen = (refusedAudited.get(req.ip) ?? 0) + 1;
    refusedAudited.set(req.ip, seen);
    if (seen <= REFUSED_AUDIT_PER_MINUTE) {
      const host = (req.params as { host?: string } | undefined)?.host;
      await audit(req, { actor: req.principal?.actor ?? "unknown", action: "refused", ...(host && hostName.safeParse(host).success ? { host } : {}), detail: `${reason}: ${req.method} ${req.routeOptions.url ?? "?"}` }).catch(() => {});
    }
    throw err;
  };

  app.addHook("onRequest", async (req) => {
    const access = req.routeOptions.config?.access ?? "public";
    if (access === "public" || access === "session") return;
    checkParams(req);
    let who;
    try {
      who = await auth.authenticate(req);
    } catch (err) {
      if (err instanceof Refusal) return refuse(req, err.reason, err.error);
      throw err;
    }
    req.principal = who.principal;
    req.signedBodySha256 = who.bodySha256;
    const p = who.principal;
    if (p.kind !== "host") return;
    if (access === "operator") return refuse(req, "host-not-allowed", serverErrors.forbidden([`host ${p.host} may not ${req.method === "GET" ? "read this" : "push or change anything"}`]));
    if (hostParam(req) !== p.host) return refuse(req, "other-host", serverErrors.forbidden([`host ${p.host} may read only its own bundles`]));
  });
  app.addHook("onResponse", async (req, reply) => {
    metrics.countRequest(req.method, req.routeOptions.url ?? "unmatched", reply.statusCode);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    let e: NixsealError & { statusCode?: number };
    if (err.validation) e = serverErrors.badRequest([err.message]);
    else if (err instanceof NixsealError && typeof (err as { statusCode?: number }).statusCode === "number") e = err;
    else if (typeof err.code === "string" && err.code.startsWith("FST_") && (err.statusCode ?? 500) < 500) e = fastifyError(err, bodyLimit);
    else e = serverErrors.internal([]);
    const status = e.statusCode ?? 500;
    if (status >= 500 && status !== 503) {
      // Details go to the log only: the code and message (paths, OS errors), never a body.
      req.log.error({ code: err.code, err: { message: err.message } }, "unexpected error");
      e = serverErrors.internal([]);
    }
    if (status === 401) reply.header("www-authenticate", 'NixsealSig realm="nixseal", Bearer realm="nixseal"');
    return reply.code(status >= 500 && status !== 503 ? 500 : status).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = serverErrors.routeNotFound([`${req.method} ${req.url.split("?")[0]}`]);
    return reply.code(404).send(errorBody(e));
  });

  const operator = { config: { access: "operator" as Access } };
  const reader = { config: { access: "reader" as Access } };

  app.get("/v1/health", async () => ({ ok: true }));

  app.put<{ Body: unknown }>("/v1/fleet", operator, async (req) => {
    const state: FleetState = validate(fleetStateSchema, req.body, "the fleet state");
    const stored = await store.putFleet(state, req.principal!.actor);
    await audit(req, { actor: req.principal!.actor, action: "push-fleet", detail: `${Object.keys(state.hosts).length} hosts, ${state.admins.length} admins` });
    return { ok: true, pushedAt: stored.pushedAt, hosts: Object.keys(state.hosts).length, admins: state.admins.length };
  });

  app.get("/v1/fleet", operator, async () => fleetReport(store));

  app.post("/v1/fleet/links", operator, async (req) => {
    const code = randomBytes(24).toString("base64url");
    const expiresAt = Date.now() + LOGIN_LINK_SECONDS * 1000;
    await store.claimOnce(`login:${sha256(code)}`, expiresAt);
    await audit(req, { actor: req.principal!.actor, action: "login", detail: "fleet page link made" });
    return { path: `/fleet/login?code=${code}`, expiresAt: new Date(expiresAt).toISOString() };
  });

  app.get("/v1/audit", operator, async (req) => {
    const q = req.query as Record<string, unknown>;
    const host = q.host;
    if (host !== undefined && (typeof host !== "string" || !hostName.safeParse(host).success)) throw serverErrors.badRequest(["?host wants a host name"]);
    const limit = whole("limit", q.limit, 1000) ?? 100;
    const before = whole("before", q.before, Number.MAX_SAFE_INTEGER);
    return { events: await store.auditLog({ ...(host ? { host } : {}), ...(before !== undefined ? { before } : {}), limit }) };
  });

  app.get("/metrics", operator, async (_req, reply) => reply.type("text/plain; version=0.0.4").send(metrics.render(polls.open)));

  /** Checks one pushed bundle for host (its signature too); throws the catalogue error that refuses it. */
  const checkOne = async (host: string, fleet: FleetState, body: PushBody): Promise<BundleToSave & { signer: string | undefined }> => {
    if (!fleet.hosts[host]) throw serverErrors.noFleet([`host ${host} is not in the fleet state the server has`]);
    const { manifest, files } = checkPushedBundle(host, body);
    if (manifest.sequence === undefined) throw serverErrors.badBundle([host, "manifest.json has no sequence (nixseal push sets one)"]);
    let signer: string | undefined;
    if (body.signature !== undefined) {
      const blob = dearmorSshsig(body.signature);
      const sig = blob && parseSshsig(blob);
      const name = sig ? await auth.adminName(sig.publicKey) : undefined;
      const verdict = sig && name !== undefined ? verifyBundleSignature(body.manifest, body.signature, [sig.publicKey]) : "untrusted";
      if (verdict !== "ok") throw serverErrors.bundleSignature([host, verdict === "untrusted" ? "its key is not an admin key of the fleet state" : verdict]);
      signer = name;
    }
    return { manifest: manifest as typeof manifest & { sequence: number }, files, signature: body.signature, signer };
  };

  const refusal = (host: string, err: unknown): PushResult => {
    if (!(err instanceof NixsealError) || typeof (err as { statusCode?: unknown }).statusCode !== "number") throw err;
    return { host, ok: false, status: (err as NixsealError & { statusCode: number }).statusCode, code: err.code, message: err.message, hints: err.hints };
  };

  /**
   * Checks every bundle, stores all that pass together (one fdatasync or one
   * transaction), then audits them (on disk before the reply). A refused bundle holds
   * back no other: a rotation reaches every host that can take it.
   */
  const pushBundles = async (req: FastifyRequest, items: Array<{ host: string; body: PushBody }>): Promise<PushResult[]> => {
    const fleet = await store.fleet();
    if (!fleet) throw serverErrors.noFleet(["the server has no fleet state yet"]);
    const results: Array<PushResult | undefined> = [];
    const checked: Array<{ at: number; item: BundleToSave & { signer: string | undefined } }> = [];
    for (const [at, { host, body }] of items.entries()) {
      try {
        checked.push({ at, item: await checkOne(host, fleet.state, body) });
        results.push(undefined);
      } catch (err) {
        results.push(refusal(host, err));
      }
    }
    const outcomes = await store.saveBundles(checked.map((c) => c.item));
    const events: AuditEvent[] = [];
    outcomes.forEach((o, i) => {
      const { at, item } = checked[i]!;
      const { host, id, secrets, rollback } = item.manifest;
      if (!o.ok) {
        results[at] = refusal(host, o.error instanceof SequenceConflict ? serverErrors.sequence([host, o.error.head, o.error.sequence]) : serverErrors.bundleConflict([host, id]));
        return;
      }
      results[at] = { host, ok: true, id, sequence: o.head.sequence, created: o.created, pushedAt: o.head.pushedAt };
      events.push(
        event(req, {
          actor: req.principal!.actor,
          action: "push-bundle",
          host,
          bundle: id,
          sequence: o.head.sequence,
          detail: `${secrets.length} secrets, ${item.signer ? `signed by ${item.signer}` : "unsigned"}${rollback ? ", rollback" : ""}`,
        }),
      );
    });
    metrics.bundlesPushed += events.length;
    await store.audit(events, true);
    const done = results as PushResult[];
    if (items.length === 1 && done[0]!.ok) {
      const { host, id, sequence } = done[0]!;
      req.log.info({ host, id, sequence, created: done[0]!.created, secrets: checked[0]!.item.manifest.secrets.length, signed: Boolean(checked[0]!.item.signer) }, "bundle stored");
    } else req.log.info({ bundles: items.length, stored: events.length, refused: items.length - events.length }, "bundles stored");
    return done;
  };

  app.get("/v1/heads", operator, async () => {
    const heads: Record<string, BundleHead> = Object.fromEntries(await store.heads());
    return { heads };
  });

  app.post<{ Body: { bundles: PushBody[] } }>(
    "/v1/bundles",
    {
      ...operator,
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["bundles"],
          properties: { bundles: { type: "array", minItems: 1, maxItems: MAX_BATCH_BUNDLES, items: PUSH_BODY_SCHEMA } },
        },
      },
    },
    async (req) => {
      const seen = new Set<string>();
      const items = req.body.bundles.map((body, i) => {
        const host = (body.manifest as { host?: unknown }).host;
        if (typeof host !== "string" || !hostName.safeParse(host).success) throw serverErrors.badRequest([`bundles[${i}]: manifest.host is not a valid host name`]);
        if (seen.has(host)) throw serverErrors.badRequest([`host ${host} has more than one bundle in this upload: send one per host`]);
        seen.add(host);
        return { host, body };
      });
      return { results: await pushBundles(req, items) };
    },
  );

  app.put<{ Body: PushBody }>("/v1/hosts/:host/bundles", { ...operator, schema: { body: PUSH_BODY_SCHEMA } }, async (req, reply: FastifyReply) => {
    const host = hostParam(req);
    const [r] = await pushBundles(req, [{ host, body: req.body }]);
    if (!r!.ok) throw Object.assign(new NixsealError(r!.code, r!.message, { hints: r!.hints }), { statusCode: r!.status });
    return reply.code(r!.created ? 201 : 200).send({ id: r!.id, host, sequence: r!.sequence, created: r!.created, pushedAt: r!.pushedAt });
  });

  /** Sends a bundle; a host's own fetch is recorded (last fetch, audit). */
  const serve = async (req: FastifyRequest, b: StoredBundle): Promise<BundleReply> => {
    const p = req.principal!;
    if (p.kind === "host") {
      const at = new Date().toISOString();
      await store.recordFetch(b.host, { id: b.id, sequence: b.sequence, at }, event(req, { actor: p.actor, action: "fetch", host: b.host, bundle: b.id, sequence: b.sequence }));
    }
    metrics.bundlesServed++;
    return replyOf(b);
  };

  app.get("/v1/hosts/:host/bundles/latest", reader, async (req, reply) => {
    const host = hostParam(req);
    const q = req.query as Record<string, unknown>;
    const after = whole("after", q.after, Number.MAX_SAFE_INTEGER);
    const waitS = whole("wait", q.wait, MAX_WAIT_SECONDS) ?? 0;
    if (after === undefined) {
      const b = await store.readLatest(host);
      if (!b) throw serverErrors.noBundle([host]);
      return serve(req, b);
    }
    const deadline = Date.now() + waitS * 1000;
    const gone = new AbortController();
    const onClose = () => gone.abort();
    reply.raw.once("close", onClose);
    try {
      for (;;) {
        // Wait first, then look: a push between the look and the wait is never missed.
        const waiting = polls.wait(host, Math.max(0, deadline - Date.now()), gone.signal);
        const b = await store.readLatest(host, after);
        if (b) {
          waiting.cancel();
          return await serve(req, b);
        }
        if (waitS === 0) {
          waiting.cancel();
          return reply.code(204).send();
        }
        const why = await waiting.done;
        if (why === "aborted") return reply.code(204).send();
        if (why === "timeout") {
          const last = await store.readLatest(host, after);
          if (last) return await serve(req, last);
          return reply.code(204).send();
        }
      }
    } finally {
      reply.raw.off("close", onClose);
    }
  });

  app.get("/v1/hosts/:host/bundles/:id", reader, async (req) => {
    const host = hostParam(req);
    const id = (req.params as { id: string }).id;
    const b = await store.readBundle(host, id);
    if (!b) throw serverErrors.bundleNotFound([host, id]);
    return serve(req, b);
  });

  app.get("/fleet/style.css", async (_req, reply) => reply.type("text/css; charset=utf-8").headers(PAGE_HEADERS).send(FLEET_PAGE_CSS));

  app.get("/fleet/login", async (req, reply) => {
    const code = (req.query as { code?: unknown }).code;
    const ok = typeof code === "string" && /^[A-Za-z0-9_-]{32}$/.test(code) && (await store.takeOnce(`login:${sha256(code)}`));
    reply.headers(PAGE_HEADERS);
    if (!ok) {
      await refuse(req, "bad-login-link", serverErrors.unauthorized(["this fleet page link is not valid: it was used already, expired, or mistyped"])).catch(() => {});
      return reply.code(401).type("text/html; charset=utf-8").send(messagePage("This link is not valid (used, expired or mistyped). Ask for a new one: nixseal fleet --server URL --link"));
    }
    const session = randomBytes(32).toString("base64url");
    await store.claimOnce(`session:${sha256(session)}`, Date.now() + SESSION_SECONDS * 1000);
    const secure = req.protocol === "https" || req.headers["x-forwarded-proto"] === "https" ? "; Secure" : "";
    reply.header("set-cookie", `${SESSION_COOKIE}=${session}; Path=/fleet; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}${secure}`);
    return reply.code(303).header("location", "/fleet").send();
  });

  app.get("/fleet", async (req, reply) => {
    const session = cookie(req, SESSION_COOKIE);
    reply.headers(PAGE_HEADERS).type("text/html; charset=utf-8");
    if (!session || !(await store.holds(`session:${sha256(session)}`))) {
      return reply.code(401).send(messagePage("Open the fleet page with a link from: nixseal fleet --server URL --link"));
    }
    return reply.send(renderFleetPage(await fleetReport(store)));
  });

  return app;
}

function messagePage(text: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>nixseal fleet</title><link rel="stylesheet" href="/fleet/style.css"></head><body><header><h1>nixseal fleet</h1></header><main><p>${text.replace(/[&<>"']/g, "")}</p></main></body></html>\n`;
}

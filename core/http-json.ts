// The client side of nixseal-server's JSON API, for `nixseal push` and `nixseal-agent
// pull`. The server is not trusted with anything but availability: its reply is read up
// to a size cap, its error text is cut to one printable line before it reaches a
// terminal or journal, and only a well-formed NIXSEAL_ERR_* code is passed on as such.
import { NixsealError } from "./errors.js";
import type { SshPrivateKey } from "./keys/ssh-private.js";
import { signRequest, type RequestPrincipal } from "./signed-request.js";

/** Signs each request with an SSH key (core/signed-request.ts): a host's host key or an admin key. */
export interface RequestSigner {
  key: SshPrivateKey;
  principal: RequestPrincipal;
}

/** One request to a nixseal server. */
export interface JsonRequest {
  method?: "GET" | "PUT" | "POST";
  /** Sent as `Authorization: Bearer TOKEN`. */
  token?: string;
  /** Signs the request instead (a fresh time and nonce each call). */
  signer?: RequestSigner;
  /** Sent as JSON. */
  body?: unknown;
  /** The whole exchange, reply body included, must end within this. */
  timeoutMs: number;
  /** Aborts the request early (a follower told to stop). */
  signal?: AbortSignal;
  /** The largest reply body read; a larger one is refused. */
  maxBytes: number;
}

const CHECK_SERVER = "check that --server points at nixseal-server";

/**
 * A server's text made safe to print: one line, no control characters, at most 500 characters.
 *
 * @param text - anything the server sent
 * @returns the printable line
 */
export function printable(text: unknown): string {
  return String(text).replace(/[\x00-\x1f\x7f]/g, " ").slice(0, 500);
}

/** Reads a body up to maxBytes. */
async function readCapped(res: Response, origin: string, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  for (let r = await reader?.read(); r && !r.done; r = await reader!.read()) {
    size += r.value.length;
    if (size > maxBytes) {
      await reader!.cancel();
      throw new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${origin} sent more than ${maxBytes} bytes`, { hints: [CHECK_SERVER] });
    }
    chunks.push(Buffer.from(r.value));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Sends a request to a nixseal server and returns its JSON reply.
 *
 * @param server - the server's base URL (ending in /)
 * @param path - the API path relative to it, e.g. `v1/hosts/web1/bundles/latest`
 * @param req - method, token, body, time and size limits
 * @returns the parsed reply of a 2xx answer; null for 204 No Content
 * @throws NixsealError NIXSEAL_ERR_SERVER_UNREACHABLE (no connection, no complete reply
 * in time), the server's own NIXSEAL_ERR_* code with its message and hints (printable
 * only), or NIXSEAL_ERR_SERVER_REPLY (not a nixseal reply, or too large)
 */
export async function requestJson(server: URL, path: string, req: JsonRequest): Promise<unknown> {
  const headers: Record<string, string> = {};
  const url = new URL(path, server);
  const method = req.method ?? "GET";
  const payload = req.body !== undefined ? Buffer.from(JSON.stringify(req.body)) : undefined;
  if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
  if (req.signer) headers.authorization = signRequest(req.signer.key, req.signer.principal, method, url.pathname + url.search, payload);
  if (payload !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  let body: unknown;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
      signal: req.signal ? AbortSignal.any([AbortSignal.timeout(req.timeoutMs), req.signal]) : AbortSignal.timeout(req.timeoutMs),
    });
    if (res.status === 204) {
      await res.body?.cancel();
      return null;
    }
    const text = await readCapped(res, server.origin, req.maxBytes);
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  } catch (err) {
    if (err instanceof NixsealError) throw err;
    const why = (err as Error).name === "TimeoutError" ? `no complete reply within ${req.timeoutMs / 1000} s` : ((err as { cause?: { code?: string } }).cause?.code ?? "error");
    throw new NixsealError("NIXSEAL_ERR_SERVER_UNREACHABLE", `cannot reach ${server.origin}: ${why}`, { cause: err, hints: ["check --server and that nixseal-server runs there"] });
  }
  const e = body as { code?: unknown; message?: unknown; hints?: unknown } | null | undefined;
  if (!res.ok && typeof e?.code === "string" && /^NIXSEAL_ERR_[A-Z_]{1,60}$/.test(e.code) && typeof e.message === "string") {
    throw new NixsealError(e.code, `${server.origin}: ${printable(e.message)}`, { hints: Array.isArray(e.hints) ? e.hints.slice(0, 5).map(printable) : [] });
  }
  if (!res.ok || body === undefined) throw new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${server.origin} answered HTTP ${res.status} without a nixseal reply`, { hints: [CHECK_SERVER] });
  return body;
}

/**
 * Checks a `--server` URL: http or https, without credentials, query or fragment (a
 * token goes in a token file, never in a URL that shows up in process lists and logs).
 *
 * @param text - the flag's value
 * @param errors - the code and exit status of the part's usage error
 * @returns the base URL, its path ending in /
 * @throws NixsealError (errors.code) saying what is wrong
 */
export function serverBaseUrl(text: string, errors: { code: string; exitCode: number }): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NixsealError(errors.code, `--server "${text}" is not a URL`, { hints: ["e.g. --server https://secrets.example.org"], exitCode: errors.exitCode });
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password || url.search || url.hash) {
    throw new NixsealError(errors.code, "--server must be an http:// or https:// URL without credentials, query or fragment", {
      hints: ["pass the token with --token-file, not in the URL"],
      exitCode: errors.exitCode,
    });
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

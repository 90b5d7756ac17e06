// Requests to a nixseal server signed with an SSH key instead of a bearer token: a host
// signs with its own SSH host key (the one nixseal.json pins), an operator with an admin
// key. One header carries everything:
//
//   Authorization: NixsealSig as=host:web1 t=1733000000 n=<32 hex> b=<sha256 hex of body> sig=<base64 SSHSIG>
//
// The SSHSIG (core/keys/sshsig.ts, namespace REQUEST_NAMESPACE) covers who it claims to
// be, the method, the path with its query, the time, a random nonce and the body's
// sha256, so a signature is good for one request only: the server refuses a time too far
// from its own clock and a nonce it has seen. The body's hash is in the header, so the
// server checks the signature before it reads a byte of the body, then the body against
// the hash. The client (cli, host-agent) and the server read the format here.
import { createHash, randomBytes } from "node:crypto";
import type { SshPrivateKey } from "./keys/ssh-private.js";
import { parseSshsig, signSshsig, type Sshsig } from "./keys/sshsig.js";
import { hostName } from "./schema/names.js";

/** The SSHSIG namespace of request signatures. */
export const REQUEST_NAMESPACE = "nixseal-request-v1";
export const REQUEST_AUTH_SCHEME = "NixsealSig";

/** Who a request says it is from: a host by name, or an operator holding an admin key. */
export type RequestPrincipal = { kind: "host"; host: string } | { kind: "admin" };

/** A parsed NixsealSig header (nothing verified yet). */
export interface RequestAuth {
  principal: RequestPrincipal;
  /** Unix seconds the client signed at. */
  time: number;
  nonce: string;
  /** Hex sha256 of the body the client sent (of nothing, for a GET). */
  bodySha256: string;
  sig: Sshsig;
  /** The bytes the signature must cover, rebuilt from the request. */
  message: Buffer;
}

const EMPTY_SHA256 = createHash("sha256").digest("hex");

function principalText(p: RequestPrincipal): string {
  return p.kind === "host" ? `host:${p.host}` : "admin";
}

function messageOf(principal: string, method: string, pathAndQuery: string, time: number, nonce: string, bodySha256: string): Buffer {
  return Buffer.from([REQUEST_NAMESPACE, principal, method.toUpperCase(), pathAndQuery, String(time), nonce, bodySha256].join("\n"));
}

/**
 * Signs one request.
 *
 * @param key - the host's SSH host key or the operator's admin key
 * @param principal - who the request is from
 * @param method - HTTP method
 * @param pathAndQuery - the request target exactly as sent (`/v1/hosts/web1/bundles/latest?after=3`)
 * @param body - the body bytes as sent, if any
 * @returns the Authorization header's value
 */
export function signRequest(key: SshPrivateKey, principal: RequestPrincipal, method: string, pathAndQuery: string, body?: Uint8Array, nowMs = Date.now()): string {
  const time = Math.floor(nowMs / 1000);
  const nonce = randomBytes(16).toString("hex");
  const b = sha256OfBody(body);
  const as = principalText(principal);
  const sig = signSshsig(key, REQUEST_NAMESPACE, messageOf(as, method, pathAndQuery, time, nonce, b));
  return `${REQUEST_AUTH_SCHEME} as=${as} t=${time} n=${nonce} b=${b} sig=${sig.toString("base64")}`;
}

const HEADER = /^NixsealSig as=(admin|host:[a-z0-9-]{1,63}) t=([0-9]{1,12}) n=([0-9a-f]{32}) b=([0-9a-f]{64}) sig=([A-Za-z0-9+/]{20,11000}={0,2})$/;

/**
 * Parses a NixsealSig header for the request it came with.
 *
 * @returns the claims and the bytes the signature must cover, or undefined when the
 * header is not a well-formed NixsealSig header
 */
export function parseRequestAuth(header: string, method: string, pathAndQuery: string): RequestAuth | undefined {
  const m = HEADER.exec(header);
  if (!m) return undefined;
  const [, as, t, nonce, bodySha256, sigB64] = m as unknown as [string, string, string, string, string, string];
  let principal: RequestPrincipal;
  if (as === "admin") principal = { kind: "admin" };
  else {
    const host = as.slice("host:".length);
    if (!hostName.safeParse(host).success) return undefined;
    principal = { kind: "host", host };
  }
  const sig = parseSshsig(Buffer.from(sigB64, "base64"));
  if (!sig) return undefined;
  const time = Number(t);
  return { principal, time, nonce, bodySha256, sig, message: messageOf(as, method, pathAndQuery, time, nonce, bodySha256) };
}

/** Hex sha256 of a body, as the `b=` field carries it. */
function sha256OfBody(body: Uint8Array | undefined): string {
  return body && body.length ? createHash("sha256").update(body).digest("hex") : EMPTY_SHA256;
}

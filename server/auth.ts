// Bearer tokens. The operator's token may push (and read); a host's token, when the
// server has per-host tokens, may read that host's bundles only. Tokens are compared
// through their sha256 with timingSafeEqual, so the time taken says nothing about
// how much of a guess was right, nor about the token's length.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { serverErrors } from "./errors.js";

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** A token kept only as its digest. */
export class Token {
  private readonly hash: Buffer;
  constructor(token: string) {
    this.hash = digest(token);
  }
  /** Constant-time comparison with a presented token. */
  matches(presented: string): boolean {
    return timingSafeEqual(this.hash, digest(presented));
  }
}

/** The token of an `Authorization: Bearer TOKEN` header, or undefined. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== "string") return undefined;
  const m = /^Bearer ([\x21-\x7e]+)$/.exec(h);
  return m ? m[1] : undefined;
}

/** Throws unless the request carries one of the accepted tokens. */
export function requireToken(req: FastifyRequest, accepted: Array<Token | undefined>, what: string): void {
  const presented = bearerToken(req);
  if (presented === undefined) throw serverErrors.unauthorized([`${what} needs a bearer token`]);
  // Check every accepted token (no early exit), so timing does not tell which one matched.
  let ok = false;
  for (const t of accepted) if (t && t.matches(presented)) ok = true;
  if (!ok) throw serverErrors.unauthorized([`the bearer token is not valid for ${what}`]);
}

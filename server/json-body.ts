// The server's one JSON body parser. It sees the raw bytes, so a signed request's body
// is checked against the sha256 its signature covers before anything is parsed, and it
// refuses JSON nested deeper than MAX_DEPTH before JSON.parse runs (nothing the API
// takes is deeper than a few levels; a 10,000-deep array would otherwise reach every
// recursive walk later on).
import { createHash } from "node:crypto";
import { serverErrors } from "./errors.js";

/** Deepest nesting of objects and arrays a request body may have. */
const MAX_DEPTH = 32;

/** The deepest nesting in a JSON text (brackets outside strings), stopping once past limit. */
function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Parses a request body.
 *
 * @param body - the raw bytes
 * @param signedSha256 - the hex sha256 a signed request declared, if any
 * @returns the parsed JSON
 * @throws ServerError NIXSEAL_ERR_SERVER_BODY_MISMATCH, NIXSEAL_ERR_SERVER_BAD_REQUEST
 */
export function parseJsonBody(body: Buffer, signedSha256: string | undefined): unknown {
  if (signedSha256 !== undefined && createHash("sha256").update(body).digest("hex") !== signedSha256) throw serverErrors.bodyMismatch([]);
  const text = body.toString("utf8");
  if (text.trim() === "") throw serverErrors.badRequest(["the body is empty"]);
  if (jsonDepthExceeds(text, MAX_DEPTH)) throw serverErrors.badRequest([`the body is nested deeper than ${MAX_DEPTH} levels`]);
  try {
    return JSON.parse(text);
  } catch {
    throw serverErrors.badRequest(["the body is not valid JSON"]);
  }
}

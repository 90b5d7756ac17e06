// The server's one error catalogue (@fastify/error classes: a code, an HTTP status, a
// printf message). Every entry is also a NixsealError, so main.ts prints it like the
// other parts do. Messages name hosts, ids, files and JSON paths; never file contents,
// tokens or request bodies.
import { catalogueEntry as define } from "../core/error-catalogue.js";

export { errorBody, type ErrorBody } from "../core/errors.js";

export const serverErrors = {
  usage: define("NIXSEAL_ERR_SERVER_USAGE", "%s", 400, ["run nixseal-server --help"], 2),
  unauthorized: define("NIXSEAL_ERR_SERVER_UNAUTHORIZED", "%s", 401, [
    "a host signs with its SSH host key, which the operator pushes with nixseal push; an operator signs with an admin key of nixseal.json (nixseal push --sign-key) or sends the token the server was started with (--token-file)",
  ]),
  stale: define("NIXSEAL_ERR_SERVER_STALE", "the request was signed at %s, more than %s s from the server's clock, or before the server started", 401, [
    "check the clock of this machine and of the server (NTP); a client signs again when it retries",
  ]),
  replayed: define("NIXSEAL_ERR_SERVER_REPLAYED", "the request's signature was already used", 401, ["sign every request anew (nixseal and nixseal-agent do); a copy of a request is refused"]),
  forbidden: define("NIXSEAL_ERR_SERVER_FORBIDDEN", "%s", 403, ["a host reads only its own bundles; pushing needs an admin key or the operator token"]),
  bodyMismatch: define("NIXSEAL_ERR_SERVER_BODY_MISMATCH", "the body does not match the sha256 the request was signed with", 400, ["send the body exactly as it was signed"]),
  noFleet: define("NIXSEAL_ERR_SERVER_NO_FLEET", "%s", 409, ["push the fleet state first: nixseal push does it before the bundles"]),
  sequence: define("NIXSEAL_ERR_SERVER_SEQUENCE", "host %s is at sequence %s on this server; this bundle has sequence %s", 409, [
    "another push came first, or this is an old bundle: run nixseal push again, which signs the next sequence",
  ]),
  bundleSignature: define("NIXSEAL_ERR_SERVER_BUNDLE_SIGNATURE", "the signature of the bundle for host %s is not accepted: %s", 400, [
    "sign with an admin key listed in nixseal.json (nixseal push --sign-key), and push the fleet state that lists it",
  ]),
  unavailable: define("NIXSEAL_ERR_SERVER_UNAVAILABLE", "the server's storage is not reachable right now", 503, ["retry in a few seconds (nixseal-agent pull --follow does); check the database"]),
  badRequest: define("NIXSEAL_ERR_SERVER_BAD_REQUEST", "bad request: %s", 400, ["see docs/server.md for the request shapes"]),
  badBundle: define("NIXSEAL_ERR_SERVER_BAD_BUNDLE", "bundle for host %s rejected: %s", 400, [
    "rebuild it from the repo with nixseal push HOST (or nixseal bundle HOST --out DIR) and send it again",
  ]),
  bodyTooLarge: define("NIXSEAL_ERR_SERVER_BODY_TOO_LARGE", "request body is larger than %s bytes", 413, [
    "start the server with a larger --body-limit, or split large secrets",
  ]),
  bundleConflict: define("NIXSEAL_ERR_SERVER_BUNDLE_CONFLICT", "host %s already has a different bundle with id %s", 409, [
    "bundle ids are content ids: rebuild the bundle with nixseal push instead of editing manifest.json",
  ]),
  noBundle: define("NIXSEAL_ERR_SERVER_NO_BUNDLE", "host %s has no bundle on this server", 404, ["push one: nixseal push HOST --server URL"]),
  bundleNotFound: define("NIXSEAL_ERR_SERVER_BUNDLE_NOT_FOUND", "host %s has no bundle %s", 404, [
    "ask for /v1/hosts/HOST/bundles/latest, or push the bundle again",
  ]),
  routeNotFound: define("NIXSEAL_ERR_SERVER_ROUTE_NOT_FOUND", "no route %s", 404, ["see docs/server.md for the routes"]),
  corrupt: define("NIXSEAL_ERR_SERVER_CORRUPT", "stored object %s does not match its sha256", 500, [
    "the server's storage was damaged: push the host's bundle again",
  ]),
  internal: define("NIXSEAL_ERR_SERVER_INTERNAL", "internal error", 500, ["see the server's log; report it if it repeats"]),
};

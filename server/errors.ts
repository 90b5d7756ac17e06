// The server's one error catalogue (@fastify/error classes: a code, an HTTP status, a
// printf message). Every entry is also a NixsealError, so main.ts prints it like the
// other parts do. Messages name hosts, ids, files and JSON paths; never file contents,
// tokens or request bodies.
import { catalogueEntry as define, type CatalogueError } from "../core/error-catalogue.js";

export { errorBody, type ErrorBody } from "../core/error-catalogue.js";

/** A catalogue error: a NixsealError that carries its HTTP status. */
export type ServerError = CatalogueError;

export const serverErrors = {
  usage: define("NIXSEAL_ERR_SERVER_USAGE", "%s", 400, ["run nixseal-server --help"], 2),
  unauthorized: define("NIXSEAL_ERR_SERVER_UNAUTHORIZED", "%s", 401, [
    "send Authorization: Bearer TOKEN with the token the server was started with (nixseal push --token-file FILE)",
  ]),
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

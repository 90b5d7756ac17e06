// The plumbing of an error catalogue in the Fastify style (@fastify/error classes: a
// code, an HTTP status, a printf message) whose entries are also NixsealErrors, so a
// part's CLI printer, its API error handler and docs/errors.md speak the same codes.
// host-agent/errors.ts and server/errors.ts each list their entries with this.
//
// @fastify/error (node:http under it) is required on the first error made, not at
// import: the agent's boot restore, where every secret is fine, never pays for it.
import { createRequire } from "node:module";
import { NixsealError } from "./errors.js";

type CreateError = typeof import("@fastify/error").default;
let createError: CreateError | undefined;
function fastifyCreateError(): CreateError {
  createError ??= createRequire(import.meta.url)("@fastify/error") as CreateError;
  return createError;
}

/** A catalogue error: a NixsealError that also carries its HTTP status. */
export type CatalogueError = NixsealError & { statusCode: number };

/** Makes one catalogue error from the message's printf arguments; opts replace the hints or add a cause. */
type CatalogueEntry = ((args: Array<string | number>, opts?: { cause?: unknown; hints?: string[] }) => CatalogueError) & {
  code: string;
  statusCode: number;
};

/**
 * Defines one catalogue entry.
 *
 * @param code - the stable NIXSEAL_ERR_* code (documented in docs/errors.md)
 * @param message - printf-style message (%s per argument); never a secret value
 * @param statusCode - the HTTP status an API answers with
 * @param hints - what to do next (printed as hint lines, sent in API replies)
 * @param exitCode - the exit status a command line ends with (usage errors: 2)
 * @returns a function that makes the error
 */
export function catalogueEntry(code: string, message: string, statusCode: number, hints: string[] = [], exitCode = 1): CatalogueEntry {
  let Ctor: ReturnType<CreateError> | undefined;
  const make = (args: Array<string | number>, opts: { cause?: unknown; hints?: string[] } = {}): CatalogueError => {
    Ctor ??= fastifyCreateError()(code, message, statusCode, NixsealError as unknown as ErrorConstructor);
    const err = (opts.cause === undefined ? new Ctor(...args) : new Ctor(...args, { cause: opts.cause })) as unknown as CatalogueError;
    // @fastify/error does not run the base constructor: fill NixsealError's fields.
    Object.assign(err, { name: "NixsealError", hints: opts.hints ?? hints, exitCode });
    return err;
  };
  return Object.assign(make, { code, statusCode });
}

/**
 * The HTTP status of any error: a catalogue error's own, 400 for other NixsealErrors
 * (deliberate refusals), else 500.
 *
 * @param err - anything thrown
 * @returns a status from 400 to 599
 */
export function statusOf(err: unknown): number {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof s === "number" && s >= 400 && s < 600) return s;
  return err instanceof NixsealError ? 400 : 500;
}

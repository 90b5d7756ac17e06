/**
 * The one error type every part of nixseal throws for expected failures.
 *
 * A message says what is wrong (lowercase, no final period); hints say what to do
 * next. Neither may ever contain a secret value or key material: report files by
 * path and line, never by content.
 */
/** The exit status of every nixseal binary after an unexpected error (a bug): EX_SOFTWARE. See docs/errors.md. */
export const EXIT_INTERNAL = 70;

/** The exit status of a command line that does not fit together. */
export const EXIT_USAGE = 2;

export class NixsealError extends Error {
  /** Stable machine-readable code, documented in docs/errors.md. */
  readonly code: string;
  /** Next steps for a person, printed as "nixseal: hint: …". */
  readonly hints: string[];
  /** Process exit code a CLI should use for this error. */
  readonly exitCode: number;

  /**
   * @param code - stable code such as `NIXSEAL_ERR_UNKNOWN_HOST`
   * @param message - what is wrong; never a secret value
   * @param opts - hints, the underlying cause, and the exit code (default 1)
   */
  constructor(
    code: string,
    message: string,
    opts: { hints?: string[]; cause?: unknown; exitCode?: number } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "NixsealError";
    this.code = code;
    this.hints = opts.hints ?? [];
    this.exitCode = opts.exitCode ?? 1;
  }
}

/**
 * Wraps an error with the step that failed, keeping the cause (and its code and
 * hints when it is already a NixsealError).
 *
 * @param step - what was being done, e.g. `install generation 7`
 * @param err - the underlying error
 * @returns a NixsealError whose message is `step: cause message`
 */
export function withStep(step: string, err: unknown): NixsealError {
  if (err instanceof NixsealError) {
    return new NixsealError(err.code, `${step}: ${err.message}`, {
      hints: err.hints,
      cause: err,
      exitCode: err.exitCode,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new NixsealError("NIXSEAL_ERR_INTERNAL", `${step}: ${message}`, { cause: err });
}

/** The body of every API error reply (agent and server): what is wrong and what to do; never request data. */
export interface ErrorBody {
  code: string;
  message: string;
  hints: string[];
}

/**
 * The reply body for an error.
 *
 * @param err - a NixsealError (a catalogue error or another deliberate one)
 * @returns its code, message and hints
 */
export function errorBody(err: NixsealError): ErrorBody {
  return { code: err.code, message: err.message, hints: err.hints };
}

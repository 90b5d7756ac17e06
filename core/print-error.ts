// The one error printer of nixseal, nixseal-agent and nixseal-server: "PROGRAM: error:
// MESSAGE", then one "PROGRAM: hint: …" line per hint; the exit status is the error's
// own (1, or 2 for usage), EXIT_INTERNAL for anything unexpected. An unexpected error
// prints its message only: an object dump could hold key material.
import { EXIT_INTERNAL, NixsealError } from "./errors.js";

/** Where a printer writes (stderr). */
export interface ErrorOutput {
  write(text: string): unknown;
}

/** Colours "error" and "hint" (the CLI's, on a terminal); identity elsewhere. */
export type Paint = (what: "error" | "hint", text: string) => string;

/**
 * Prints an error for a person.
 *
 * @param program - the binary's name, the prefix of every line
 * @returns the exit status to end with
 */
export function printError(out: ErrorOutput, program: string, err: unknown, paint: Paint = (_w, t) => t): number {
  if (err instanceof NixsealError) {
    out.write(`${program}: ${paint("error", "error")}: ${err.message}\n`);
    for (const hint of err.hints) out.write(`${program}: ${paint("hint", "hint")}: ${hint}\n`);
    return err.exitCode;
  }
  out.write(`${program}: ${paint("error", "error")}: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  out.write(`${program}: hint: this is a bug in nixseal; please report it with the command you ran\n`);
  return EXIT_INTERNAL;
}

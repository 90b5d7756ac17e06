// The one error printer of nixseal, nixseal-agent and nixseal-server: "PROGRAM: error:
// MESSAGE [CODE]", then one "PROGRAM: hint: …" line per hint; the exit status is the
// error's own (1, or 2 for usage), EXIT_INTERNAL for anything unexpected. The code comes
// last so that the message reads first and a search for it finds docs/errors.md. An
// unexpected error prints its message only: an object dump could hold key material.
import { EXIT_INTERNAL, NixsealError, type ErrorBody } from "./errors.js";

/** Where a printer writes (stderr). */
interface ErrorOutput {
  write(text: string): unknown;
}

/** Colours "error" and "hint" (the CLI's, on a terminal); identity elsewhere. */
export type Paint = (what: "error" | "hint", text: string) => string;

const plain: Paint = (_w, t) => t;

/** The error line's tail: the code, in brackets. */
export function codeTag(code: string): string {
  return `[${code}]`;
}

/**
 * The lines for one error: "PROGRAM: error: MESSAGE [CODE]" and its hints.
 *
 * @param program - the binary's name, the prefix of every line
 */
export function errorLines(program: string, err: ErrorBody, paint: Paint = plain): string {
  let text = `${program}: ${paint("error", "error")}: ${err.message} ${codeTag(err.code)}\n`;
  for (const hint of err.hints) text += `${program}: ${paint("hint", "hint")}: ${hint}\n`;
  return text;
}

/**
 * Prints an error for a person.
 *
 * @param program - the binary's name, the prefix of every line
 * @returns the exit status to end with
 */
export function printError(out: ErrorOutput, program: string, err: unknown, paint: Paint = plain): number {
  if (err instanceof NixsealError) {
    out.write(errorLines(program, err, paint));
    return err.exitCode;
  }
  const message = `internal error: ${err instanceof Error ? err.message : String(err)}`;
  out.write(errorLines(program, { code: "NIXSEAL_ERR_INTERNAL", message, hints: ["this is a bug in nixseal; please report it with the command you ran"] }, paint));
  return EXIT_INTERNAL;
}

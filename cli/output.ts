import type { ErrorBody } from "../core/errors.js";
import { errorLines, printError as printErrorFor, type Paint } from "../core/print-error.js";
import type { CliIo } from "./io.js";

/** Whether to colour: only on a TTY, never with NO_COLOR set or on a dumb terminal. */
function useColour(io: CliIo): boolean {
  return Boolean(io.stderr.isTTY) && io.env.NO_COLOR === undefined && io.env.TERM !== "dumb";
}

function paint(io: CliIo, code: string, text: string): string {
  return useColour(io) ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function errorPaint(io: CliIo): Paint {
  return (what, text) => paint(io, what === "error" ? "31" : "36", text);
}

/** "nixseal: error: … [CODE]" plus one "nixseal: hint: …" line per hint (core/print-error.ts), coloured on a terminal. */
export function printError(io: CliIo, err: unknown): number {
  return printErrorFor(io.stderr, "nixseal", err, errorPaint(io));
}

/** The same lines for an error known by its body (a host's failure in a multi-host run). */
export function printErrorBody(io: CliIo, body: ErrorBody): void {
  io.stderr.write(errorLines("nixseal", body, errorPaint(io)));
}

/** "nixseal: warning: …" */
export function printWarning(io: CliIo, message: string): void {
  io.stderr.write(`nixseal: ${paint(io, "33", "warning")}: ${message}\n`);
}

/** Informational line on stderr (stdout stays for data). */
export function printInfo(io: CliIo, message: string): void {
  io.stderr.write(`nixseal: ${message}\n`);
}

/** Machine-readable output for --json. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** A listing for people: a header row, then one tab-separated row per item (--json for scripts). */
export function printTable(io: CliIo, header: string[], rows: string[][]): void {
  for (const r of [header, ...rows]) io.stdout.write(r.join("\t") + "\n");
}

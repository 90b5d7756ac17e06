import { NixsealError } from "../core/index.js";
import type { CliIo } from "./io.js";

/** Whether to colour: only on a TTY, never with NO_COLOR set or on a dumb terminal. */
export function useColour(io: CliIo): boolean {
  return Boolean(io.stderr.isTTY) && io.env.NO_COLOR === undefined && io.env.TERM !== "dumb";
}

function paint(io: CliIo, code: string, text: string): string {
  return useColour(io) ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** "nixseal: error: …" plus one "nixseal: hint: …" line per hint. */
export function printError(io: CliIo, err: unknown): number {
  if (err instanceof NixsealError) {
    io.stderr.write(`nixseal: ${paint(io, "31", "error")}: ${err.message}\n`);
    for (const hint of err.hints) io.stderr.write(`nixseal: ${paint(io, "36", "hint")}: ${hint}\n`);
    return err.exitCode;
  }
  // Unexpected errors: say so, without dumping objects that might hold key material.
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`nixseal: ${paint(io, "31", "error")}: internal error: ${message}\n`);
  io.stderr.write(`nixseal: hint: this is a bug in nixseal; please report it with the command you ran\n`);
  return 70;
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

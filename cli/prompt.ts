import { NixsealError } from "../core/index.js";
import type { CliIo } from "./io.js";

/** Whether we may ask the person at the keyboard (stdin and stderr are a terminal). */
export function canPrompt(io: CliIo): boolean {
  return Boolean(io.stdin.isTTY && io.stderr.isTTY);
}

type RawStdin = CliIo["stdin"] & { setRawMode?: (raw: boolean) => unknown };

/**
 * Reads one line from the terminal without echoing it (passphrases, values).
 * Ctrl-C aborts with exit code 130.
 */
export async function promptHidden(io: CliIo, question: string): Promise<string> {
  return readLine(io, question, false);
}

/** Asks for one line on the terminal, echoed. */
export async function promptLine(io: CliIo, question: string): Promise<string> {
  return (await readLine(io, question, true)).trim();
}

/** Asks a yes/no question on the terminal; only "y" or "yes" is yes. */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const answer = await readLine(io, `${question} [y/N] `, true);
  return /^y(es)?$/i.test(answer.trim());
}

async function readLine(io: CliIo, question: string, echo: boolean): Promise<string> {
  const stdin = io.stdin as RawStdin;
  io.stderr.write(question);
  const raw = !echo && typeof stdin.setRawMode === "function";
  if (raw) stdin.setRawMode!(true);
  const chars: string[] = [];
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer | string): void => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return done(() => resolve(chars.join("")));
          if (ch === "\u0003") {
            return done(() => reject(new NixsealError("NIXSEAL_ERR_INTERRUPTED", "interrupted", { exitCode: 130 })));
          }
          if (ch === "\u007f" || ch === "\b") chars.pop();
          else chars.push(ch);
        }
      };
      const onEnd = (): void => done(() => resolve(chars.join("")));
      const done = (fn: () => void): void => {
        stdin.off("data", onData);
        stdin.off("end", onEnd);
        stdin.pause();
        fn();
      };
      stdin.on("data", onData);
      stdin.on("end", onEnd);
      stdin.resume();
    });
  } finally {
    if (raw) stdin.setRawMode!(false);
    if (!echo) io.stderr.write("\n");
  }
}

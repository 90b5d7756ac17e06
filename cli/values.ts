import { randomBytes, randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { NixsealError } from "../core/index.js";
import { readAll, type CliIo } from "./io.js";
import { canPrompt, promptHidden } from "./prompt.js";

export type Encoding = "base64" | "hex" | "alnum";
export const ENCODINGS: Encoding[] = ["base64", "hex", "alnum"];

/** How a command was told to get a value. Never from argv. */
export interface ValueOptions {
  fromFile?: string;
  generate?: string;
  encoding?: string;
}

/** A parsed --generate spec. */
export interface GenerateSpec {
  bytes: number;
  encoding: Encoding;
}

/**
 * Parses --generate BYTES [--encoding E].
 *
 * @throws NixsealError NIXSEAL_ERR_BAD_VALUE_SOURCE
 */
export function parseGenerate(opts: ValueOptions): GenerateSpec | undefined {
  if (opts.generate === undefined) {
    if (opts.encoding !== undefined) {
      throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", "--encoding only goes with --generate", { hints: ["e.g. --generate 32 --encoding hex"] });
    }
    return undefined;
  }
  const bytes = Number(opts.generate);
  if (!/^[0-9]+$/.test(opts.generate) || bytes < 1 || bytes > 4096) {
    throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", `--generate wants a number of bytes from 1 to 4096, not "${opts.generate}"`, {
      hints: ["e.g. --generate 32"],
    });
  }
  const encoding = (opts.encoding ?? "base64") as Encoding;
  if (!ENCODINGS.includes(encoding)) {
    throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", `unknown --encoding "${opts.encoding}"`, { hints: [`use one of ${ENCODINGS.join(", ")}`] });
  }
  return { bytes, encoding };
}

/**
 * A fresh random value: BYTES random bytes as base64 or hex, or BYTES characters
 * from [A-Za-z0-9] (alnum, uniformly chosen).
 */
export function generateValue(spec: GenerateSpec): Buffer {
  if (spec.encoding === "alnum") {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const out = Buffer.alloc(spec.bytes);
    for (let i = 0; i < spec.bytes; i++) out[i] = alphabet.charCodeAt(randomInt(alphabet.length));
    return out;
  }
  return Buffer.from(randomBytes(spec.bytes).toString(spec.encoding));
}

/**
 * Reads a value from exactly one source: --generate, --from-file, or stdin
 * (piped, or typed without echo on a terminal). An empty value is refused.
 *
 * @param fallback - a generate spec to use when no source is given (rotate of a generated secret)
 * @param usage - the command as the hint should show it, e.g. "secrets rotate db"
 */
export async function readValue(io: CliIo, opts: ValueOptions, fallback?: GenerateSpec, usage = "secrets add NAME --host H"): Promise<{ value: Buffer; generated?: GenerateSpec }> {
  const spec = parseGenerate(opts);
  if (spec && opts.fromFile !== undefined) {
    throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", "give the value one way: --generate or --from-file, not both");
  }
  let value: Buffer;
  let generated: GenerateSpec | undefined;
  if (spec) {
    value = generateValue(spec);
    generated = spec;
  } else if (opts.fromFile !== undefined) {
    const file = resolve(io.cwd, opts.fromFile);
    try {
      value = await readFile(file);
    } catch (err) {
      throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `cannot read --from-file ${opts.fromFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  } else if (fallback) {
    value = generateValue(fallback);
    generated = fallback;
  } else if (io.stdin.isTTY) {
    if (!canPrompt(io)) throw noValue(usage);
    value = Buffer.from(await promptHidden(io, "value (input hidden, Enter to finish): "));
  } else {
    value = await readAll(io.stdin);
  }
  if (value.length === 0) throw noValue(usage, opts.fromFile);
  return { value, generated };
}

function noValue(usage: string, fromFile?: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_EMPTY_VALUE", fromFile === undefined ? "no value given (stdin was empty)" : `--from-file ${fromFile} is empty`, {
    hints: [`pipe it on stdin: printf %s "$VALUE" | nixseal ${usage}`, `or: nixseal ${usage} --from-file FILE, or --generate BYTES`],
  });
}

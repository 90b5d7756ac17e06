import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { NixsealError } from "../errors.js";
import { findJsonSyntaxError } from "./json-syntax.js";

/**
 * Validates parsed JSON against a schema; on failure names the file, the JSON
 * path and what was expected (never the offending value, which may be secret).
 *
 * @param schema - zod schema
 * @param data - parsed JSON
 * @param file - file name for the message
 * @returns the validated value
 * @throws NixsealError NIXSEAL_ERR_INVALID_FILE
 */
export function validate<T extends z.ZodType>(schema: T, data: unknown, file: string): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length === 0 ? "$" : "$" + issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : "";
  throw new NixsealError("NIXSEAL_ERR_INVALID_FILE", `${file}: at ${where}: ${issue.message}${more}`, {
    hints: [`fix ${file} by hand or restore it from git (git checkout -- ${file})`],
  });
}

/**
 * Reads, parses and validates a JSON file.
 *
 * @throws NixsealError NIXSEAL_ERR_NOT_FOUND when missing, NIXSEAL_ERR_INVALID_FILE when
 * not JSON (with line and column) or not of the schema
 */
export async function readJsonFile<T extends z.ZodType>(schema: T, file: string): Promise<z.infer<T>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `${file}: no such file`, { cause: err });
    }
    throw new NixsealError("NIXSEAL_ERR_IO", `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return validate(schema, parseJsonText(text, file), file);
}

/**
 * JSON.parse with an error that names the place as "file:line:col" and what the
 * JSON grammar expected there, never the content (it may be secret).
 *
 * @param text - the file's text
 * @param file - file name for the message
 * @returns the parsed value
 * @throws NixsealError NIXSEAL_ERR_INVALID_FILE
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const found = findJsonSyntaxError(text);
    const restore = `or restore it from git (git checkout -- ${file})`;
    if (!found) {
      // The grammar holds but JSON.parse still refused (e.g. out of memory): say so plainly.
      throw new NixsealError("NIXSEAL_ERR_INVALID_FILE", `${file}: cannot be read as JSON: ${(err as Error).name}`, {
        hints: [`check ${file} ${restore}`],
      }); // no cause: V8's message may quote the text
    }
    const where = `${file}:${found.line}:${found.column}`;
    const what = found.atEnd ? `the file ends early, expected ${found.expected}` : `expected ${found.expected}`;
    throw new NixsealError("NIXSEAL_ERR_INVALID_FILE", `${where}: not valid JSON: ${what}`, {
      hints: [`fix line ${found.line} of ${file} in an editor ${restore}`],
    });
  }
}

import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { NixsealError } from "../errors.js";

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
 * JSON.parse with an error that gives line and column instead of echoing content.
 *
 * @throws NixsealError NIXSEAL_ERR_INVALID_FILE
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    let where = "";
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      const line = before.split("\n").length;
      const col = pos - before.lastIndexOf("\n");
      where = ` at line ${line} column ${col}`;
    }
    throw new NixsealError("NIXSEAL_ERR_INVALID_FILE", `${file}: not valid JSON${where}`, {
      hints: [`fix ${file} by hand or restore it from git (git checkout -- ${file})`],
    });
  }
}

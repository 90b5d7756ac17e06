// Templates: a config file with placeholders for secrets, {{ secret "NAME" }}, kept in
// the operator's repo (it holds no secret itself) and rendered by the agent on the host
// into the secrets tmpfs. Only that one form is a placeholder: other text, braces
// included, is copied as it is. Text that starts like one ("{{ secret") but is not
// well-formed is an error, so a typo never ships as literal text.
import { NixsealError } from "./errors.js";

const START = /\{\{\s*secret\b/g;
const PLACEHOLDER = /^\{\{\s*secret\s+"([^"\n]*)"\s*\}\}/;

/** One piece of a parsed template: literal text, or the value of a secret. */
export type TemplatePart = { text: string } | { secret: string };

function lineCol(text: string, index: number): string {
  const before = text.slice(0, index);
  const line = before.split("\n").length;
  return `${line}:${index - before.lastIndexOf("\n")}`;
}

/**
 * Splits a template into literal text and placeholders.
 *
 * @param text - the template
 * @param where - its name, for errors
 * @throws NixsealError NIXSEAL_ERR_TEMPLATE_SYNTAX with line:column for a malformed placeholder
 */
export function parseTemplate(text: string, where: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let pos = 0;
  for (const m of text.matchAll(START)) {
    const at = m.index;
    const full = PLACEHOLDER.exec(text.slice(at));
    if (!full) {
      throw new NixsealError("NIXSEAL_ERR_TEMPLATE_SYNTAX", `${where}:${lineCol(text, at)}: a placeholder is written {{ secret "NAME" }}`, {
        hints: ['the name in double quotes, on one line, e.g. {{ secret "dns-token" }}'],
      });
    }
    if (at > pos) parts.push({ text: text.slice(pos, at) });
    parts.push({ secret: full[1]! });
    pos = at + full[0].length;
  }
  if (pos < text.length) parts.push({ text: text.slice(pos) });
  return parts;
}

/** The secrets a template uses, each once, in order of first use. */
export function templateSecrets(parts: readonly TemplatePart[]): string[] {
  return [...new Set(parts.flatMap((p) => ("secret" in p ? [p.secret] : [])))];
}

/**
 * Renders a parsed template with the secrets' values (bytes, inserted as they are).
 *
 * @throws NixsealError NIXSEAL_ERR_TEMPLATE_INPUT when a value is missing
 */
export function renderTemplate(parts: readonly TemplatePart[], values: ReadonlyMap<string, Uint8Array>, where: string): Buffer {
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    if ("text" in p) chunks.push(Buffer.from(p.text, "utf8"));
    else {
      const v = values.get(p.secret);
      if (!v) throw new NixsealError("NIXSEAL_ERR_TEMPLATE_INPUT", `template ${where} uses secret ${p.secret}, which is not available`);
      chunks.push(v);
    }
  }
  return Buffer.concat(chunks);
}

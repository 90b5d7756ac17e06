// Templates on the host: a bundle's template text with {{ secret "NAME" }} placeholders,
// rendered from the secrets just written into the new run generation (read back from
// the tmpfs), so rendering never needs its own decryption and never touches a disk.
import { join } from "node:path";
import { parseTemplate, renderTemplate, templateSecrets, type TemplatePart } from "../../core/template.js";
import { errors } from "../errors.js";
import type { TemplateEntry } from "../generations/bundle-dir.js";
import { readRegularFile } from "../generations/bundle-dir.js";

/**
 * Parses a template of a bundle and checks that its placeholders name only secrets the
 * manifest says it uses.
 *
 * @throws AgentError templateInvalid (unreadable, not UTF-8, malformed placeholder, an undeclared secret)
 */
export function checkTemplate(t: TemplateEntry): TemplatePart[] {
  if (t.error || !t.text) throw t.error ?? errors.internal([]);
  let parts: TemplatePart[];
  try {
    parts = parseTemplate(new TextDecoder("utf-8", { fatal: true }).decode(t.text), t.template.name);
  } catch (err) {
    throw errors.templateInvalid([t.template.name, err instanceof Error ? err.message : String(err)], { cause: err });
  }
  const undeclared = templateSecrets(parts).find((s) => !t.template.uses.includes(s));
  if (undeclared) throw errors.templateInvalid([t.template.name, `it uses '${undeclared}', which its manifest entry does not list`]);
  return parts;
}

/**
 * The rendered bytes of a template, from the plaintext files in dir.
 *
 * @param ok - whether each secret of the generation was written
 * @throws AgentError templateInput when a secret it uses was not restored, templateInvalid
 */
export function renderFromDir(t: TemplateEntry, dir: string, ok: (secret: string) => boolean): Buffer {
  const parts = checkTemplate(t);
  const failed = t.template.uses.find((s) => !ok(s));
  if (failed) throw errors.templateInput([t.template.name, failed]);
  const values = new Map(t.template.uses.map((s) => [s, readRegularFile(join(dir, s))]));
  try {
    return renderTemplate(parts, values, t.template.name);
  } finally {
    for (const v of values.values()) v.fill(0);
  }
}

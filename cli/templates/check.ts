// The one check of a template against the repo, run when it is added or changed, when
// a secret it uses changes, and when a bundle is built (before anything ships): every
// placeholder names a secret that exists and that each of the template's hosts gets.
import { readFile } from "node:fs/promises";
import { NixsealError, parseTemplate, templateSecrets, type Repo, type TemplatePart } from "../../core/index.js";
import { templateFile } from "../repo/paths.js";

/** A template's parts and the secrets it uses, checked against repo. */
interface CheckedTemplate {
  text: Buffer;
  parts: TemplatePart[];
  uses: string[];
}

/**
 * Checks a template's text for its hosts.
 *
 * @param hosts - the template's hosts (the repo's record, or the planned one)
 * @throws NixsealError NIXSEAL_ERR_TEMPLATE_SYNTAX, NIXSEAL_ERR_TEMPLATE_SECRET
 */
export function checkTemplateText(repo: Repo, name: string, text: Buffer, hosts: readonly string[]): CheckedTemplate {
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(text);
  } catch {
    throw new NixsealError("NIXSEAL_ERR_TEMPLATE_SYNTAX", `templates/${name} is not UTF-8 text`, { hints: ["a template is a text file (a config file with placeholders)"] });
  }
  const parts = parseTemplate(decoded, `templates/${name}`);
  const uses = templateSecrets(parts);
  for (const s of uses) {
    const secret = repo.secrets[s];
    if (!secret) {
      throw new NixsealError("NIXSEAL_ERR_TEMPLATE_SECRET", `template ${name} uses secret ${s}, which does not exist`, {
        hints: [`add it (nixseal secrets add ${s} --host ${hosts.join(",") || "H"}), or fix the placeholder`],
      });
    }
    const missing = hosts.filter((h) => !secret.hosts.includes(h));
    if (missing.length) {
      throw new NixsealError("NIXSEAL_ERR_TEMPLATE_SECRET", `template ${name} is for ${missing.join(", ")}, which ${missing.length === 1 ? "does" : "do"} not get secret ${s}`, {
        hints: [`give it the secret: nixseal secrets set ${s} --add-host ${missing.join(",")}`, `or take the template off: nixseal template set ${name} --rm-host ${missing.join(",")}`],
      });
    }
  }
  return { text, parts, uses };
}

/**
 * Reads templates/<name> from the repo and checks it for its recorded hosts.
 *
 * @throws NixsealError NIXSEAL_ERR_NOT_FOUND, NIXSEAL_ERR_TEMPLATE_SYNTAX, NIXSEAL_ERR_TEMPLATE_SECRET
 */
export async function loadTemplate(dir: string, repo: Repo, name: string): Promise<CheckedTemplate> {
  let text: Buffer;
  try {
    text = await readFile(templateFile(dir, name));
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `templates/${name}: cannot read the template (${(err as NodeJS.ErrnoException).code ?? "error"})`, {
      hints: [`restore it from git, or give it again: nixseal template set ${name} --from-file FILE`],
      cause: err,
    });
  }
  return checkTemplateText(repo, name, text, repo.templates?.[name]?.hosts ?? []);
}

/**
 * Checks every template of the repo (after a change to secrets or hosts).
 *
 * @throws NixsealError the first template that no longer holds
 */
export async function checkAllTemplates(dir: string, repo: Repo): Promise<void> {
  for (const [name, t] of Object.entries(repo.templates ?? {}).sort()) {
    if (repo.secrets[name]) throw new NixsealError("NIXSEAL_ERR_TEMPLATE_SECRET", `${name} is both a secret and a template`, { hints: ["they share /run/keys: give one another name"] });
    const unknown = t.hosts.find((h) => !repo.hosts[h]);
    if (unknown) throw new NixsealError("NIXSEAL_ERR_TEMPLATE_SECRET", `template ${name} is for host ${unknown}, which is not registered`, { hints: [`nixseal template set ${name} --rm-host ${unknown}`] });
    await loadTemplate(dir, repo, name);
  }
}

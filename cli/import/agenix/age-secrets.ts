// Owner, group, mode and path of agenix secrets, from a JSON export of a host's NixOS
// config: nix eval --json .#nixosConfigurations.HOST.config.age.secrets. Each entry
// names its .age file by path (usually a store path, /nix/store/<hash>-NAME.age), so
// entries are matched to secrets.nix by file name.
import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { z } from "zod";
import { NixsealError, parseJsonText, validate } from "../../../core/index.js";
import type { CliIo } from "../../io.js";

const entrySchema = z.object({
  file: z.string().min(1),
  owner: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  mode: z.string().min(1).optional(),
  path: z.string().min(1).optional(),
});
const exportSchema = z.record(z.string().min(1), entrySchema);

export interface AgeSecretMeta {
  owner?: string;
  group?: string;
  mode?: string;
  path?: string;
  /** Where it came from, for messages: FILE:ATTR. */
  from: string;
}

/** The file name an age.secrets entry points at, without a store path's hash prefix. */
function ageFileName(file: string): string {
  return basename(file).replace(/^[0-9a-df-np-sv-z]{32}-/, "");
}

/**
 * Reads one host's export.
 *
 * @returns .age file name -> its metadata
 * @throws NixsealError NIXSEAL_ERR_NOT_FOUND, NIXSEAL_ERR_INVALID_FILE, NIXSEAL_ERR_AGENIX_RULES
 */
export async function readAgeSecretsExport(io: CliIo, file: string): Promise<Map<string, AgeSecretMeta>> {
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), "utf8");
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `cannot read --age-secrets ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hints: ["make it with: nix eval --json .#nixosConfigurations.HOST.config.age.secrets > FILE"],
      cause: err,
    });
  }
  const entries = validate(exportSchema, parseJsonText(text, file), file);
  const out = new Map<string, AgeSecretMeta>();
  for (const [attr, e] of Object.entries(entries)) {
    const name = ageFileName(e.file);
    if (out.has(name)) {
      throw new NixsealError("NIXSEAL_ERR_AGENIX_RULES", `${file}: age.secrets.${attr} and ${out.get(name)!.from.split(":")[1]} both use ${name}`, {
        hints: ["nixseal gives each .age file one owner, group, mode and path; keep one entry per file"],
      });
    }
    out.set(name, { owner: e.owner, group: e.group, mode: e.mode, path: e.path, from: `${file}:age.secrets.${attr}` });
  }
  return out;
}

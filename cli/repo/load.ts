import { readFile } from "node:fs/promises";
import {
  NixsealError,
  parseJsonText,
  repoSchema,
  secretNameProblems,
  suggestSecretName,
  validate,
  writeFileAtomic,
  type Repo,
} from "../../core/index.js";
import { checkAllTemplates } from "../templates/check.js";
import { findRepo } from "./find.js";
import { syncHostSecretsFiles } from "./host-secrets.js";
import { repoFile } from "./paths.js";
import { usedRecipientSets } from "./recipients.js";
import { checkRepoPaths } from "./validate.js";

/** A loaded repo: its directory and its validated nixseal.json. */
export interface LoadedRepo {
  dir: string;
  repo: Repo;
}

/** What loadRepo accepts: `oldNames` lets a name an earlier rule allowed through (for rename). */
export interface LoadOptions {
  oldNames?: boolean;
}

/**
 * Reads and validates dir/nixseal.json. Errors name the file, the JSON path and
 * what is expected (never the value found). A secret name the current rule
 * refuses (written under an earlier one), or two that differ only in case, is an
 * error naming the rename command.
 *
 * @throws NixsealError NIXSEAL_ERR_NO_REPO, NIXSEAL_ERR_INVALID_FILE, NIXSEAL_ERR_IO, NIXSEAL_ERR_BAD_NAME
 */
export async function loadRepo(dir: string, opts: LoadOptions = {}): Promise<LoadedRepo> {
  const file = repoFile(dir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new NixsealError("NIXSEAL_ERR_NO_REPO", `${file}: no such file`, {
        hints: ['run "nixseal init" first'],
        cause: err,
      });
    }
    throw new NixsealError("NIXSEAL_ERR_IO", `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const repo = validate(repoSchema, parseJsonText(text, file), file);
  if (!opts.oldNames) checkSecretNames(file, repo);
  return { dir, repo };
}

function checkSecretNames(file: string, repo: Repo): void {
  const problems = secretNameProblems(Object.keys(repo.secrets));
  if (problems.length === 0) return;
  const p = problems[0]!;
  const what = p.problem === "rule" ? "a name secrets may no longer have (a name is also a systemd unit name on NixOS hosts)" : `a name that differs from "${p.other}" only in case`;
  const to = p.problem === "rule" ? suggestSecretName(p.name) : `${p.name}-2`;
  throw new NixsealError("NIXSEAL_ERR_BAD_NAME", `${file}: secret ${JSON.stringify(p.name)} has ${what}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`, {
    hints: [`rename it: nixseal secrets rename ${quoteArg(p.name)} ${to}`, "then deploy its hosts (their systems are rebuilt for the new name)"],
  });
}

/** A shell word for a hint (names are printable; quote what a shell would split). */
function quoteArg(s: string): string {
  return /^[A-Za-z0-9._@+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** findRepo(cwd) then loadRepo. */
export async function openRepo(cwd: string, opts: LoadOptions = {}): Promise<LoadedRepo> {
  return loadRepo(await findRepo(cwd), opts);
}

/**
 * Serialises a repo the same way every time: hosts and secrets sorted by name,
 * two-space JSON, final newline, so git diffs stay small; recipientSets
 * pruned to the ones in use.
 */
function formatRepo(repo: Repo): string {
  const sorted: Repo = {
    format: repo.format,
    admins: repo.admins,
    hosts: sortRecord(repo.hosts),
    secrets: sortRecord(repo.secrets),
    ...(repo.templates && Object.keys(repo.templates).length ? { templates: sortRecord(repo.templates) } : {}),
  };
  // Only the recorded recipient sets some secret still refers to.
  const sets = usedRecipientSets(repo);
  if (sets) sorted.recipientSets = sets;
  return JSON.stringify(sorted, null, 2) + "\n";
}

/**
 * Validates and writes dir/nixseal.json through temp + rename. Every template must
 * still hold (its secrets exist and go to its hosts): the one place a change that
 * would break one is refused, whichever command makes it.
 *
 * @throws NixsealError NIXSEAL_ERR_INTERNAL if the repo no longer matches its schema (a bug),
 * NIXSEAL_ERR_TEMPLATE_SECRET when a template would name a secret its host does not get
 */
export async function saveRepo(dir: string, repo: Repo): Promise<void> {
  const file = repoFile(dir);
  const checked = repoSchema.safeParse(repo);
  if (!checked.success) {
    throw new NixsealError("NIXSEAL_ERR_INTERNAL", `refusing to write an invalid ${file}: ${checked.error.issues[0]?.message}`);
  }
  // whatever command made this state (add, set, import, a host change): one link, one secret
  checkRepoPaths(checked.data);
  await checkAllTemplates(dir, checked.data);
  await writeFileAtomic(file, formatRepo(checked.data), 0o644);
  // Every change of a host's secrets reaches the file its NixOS system is built from.
  await syncHostSecretsFiles(dir, checked.data);
}

function sortRecord<T>(rec: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(rec).sort()) out[key] = rec[key]!;
  return out;
}

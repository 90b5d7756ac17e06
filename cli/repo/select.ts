// Which hosts a person means: `web1`, `@web` (every host with that tag), `web-*` (a glob
// over host names), or several of these separated by commas or given as separate words.
// deploy, status, rollback, push (their HOST… operands and --on) and the --host options
// of secrets all resolve through here, so a typo is reported the same way everywhere.
import { NixsealError, type Repo } from "../../core/index.js";
import { unknownHost } from "../errors.js";
import { didYouMean } from "../suggest.js";
import { hostsOf } from "./recipients.js";

/** Every tag in the repo, sorted. */
function tagsOf(repo: Pick<Repo, "hosts">): string[] {
  return [...new Set(Object.values(repo.hosts).flatMap((h) => h.tags ?? []))].sort();
}

/** Splits operands and comma lists into single selectors (empty items dropped). */
function selectorWords(words: readonly string[]): string[] {
  return words.flatMap((w) => w.split(",")).map((w) => w.trim()).filter((w) => w !== "");
}

function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

/**
 * The hosts the selectors name, in repo order, each once.
 *
 * @throws NixsealError NIXSEAL_ERR_UNKNOWN_HOST for a name that is not a host,
 * NIXSEAL_ERR_UNKNOWN_TAG for a tag no host has, NIXSEAL_ERR_NO_MATCH for a glob that
 * matches no host
 */
export function selectHostNames(repo: Pick<Repo, "hosts">, words: readonly string[]): string[] {
  const all = hostsOf(repo);
  const chosen = new Set<string>();
  for (const sel of selectorWords(words)) {
    if (sel.startsWith("@")) {
      const tag = sel.slice(1);
      const tagged = all.filter((h) => repo.hosts[h]!.tags?.includes(tag));
      if (tagged.length === 0) throw unknownTag(tag, repo);
      tagged.forEach((h) => chosen.add(h));
    } else if (/[*?]/.test(sel)) {
      const re = globRegExp(sel);
      const matched = all.filter((h) => re.test(h));
      if (matched.length === 0) {
        throw new NixsealError("NIXSEAL_ERR_NO_MATCH", `"${sel}" matches no host`, { hints: ['run "nixseal host list" to see the hosts'] });
      }
      matched.forEach((h) => chosen.add(h));
    } else {
      if (!repo.hosts[sel]) throw unknownHost(sel, repo);
      chosen.add(sel);
    }
  }
  return all.filter((h) => chosen.has(h));
}

/** A tag that no host carries. */
function unknownTag(tag: string, repo: Pick<Repo, "hosts">): NixsealError {
  const tags = tagsOf(repo);
  const guess = didYouMean(tag, tags);
  return new NixsealError("NIXSEAL_ERR_UNKNOWN_TAG", `no host has the tag "${tag}"`, {
    hints: [
      ...(guess ? [guess.replace(/"([^"]+)"/g, '"@$1"')] : []),
      tags.length ? `tags in this repo: ${tags.map((t) => `@${t}`).join(", ")}` : "no host has a tag yet",
      `tag a host with "nixseal host set NAME --tag ${tag}"`,
    ],
  });
}

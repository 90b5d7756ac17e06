import { createHash } from "node:crypto";
import { NixsealError, canonicalRecipient, type Repo } from "../../core/index.js";

/** Host names of the repo, sorted. */
export function hostsOf(repo: Pick<Repo, "hosts">): string[] {
  return Object.keys(repo.hosts).sort();
}

/** Names of the secrets a host receives, sorted. */
export function secretsForHost(repo: Repo, host: string): string[] {
  return Object.keys(repo.secrets)
    .filter((name) => repo.secrets[name]!.hosts.includes(host))
    .sort();
}

/** Names of the templates a host renders, sorted. */
export function templatesForHost(repo: Repo, host: string): string[] {
  return Object.keys(repo.templates ?? {})
    .filter((name) => repo.templates![name]!.hosts.includes(host))
    .sort();
}

/**
 * Recipient lines a secret must be encrypted to: the SSH host key of each of its
 * hosts plus every admin, canonical (no comments), deduplicated and sorted.
 *
 * @throws NixsealError NIXSEAL_ERR_UNKNOWN_HOST when a listed host is not registered
 */
export function recipientLines(repo: Repo, secret: string): string[] {
  const meta = repo.secrets[secret];
  if (!meta) throw new NixsealError("NIXSEAL_ERR_UNKNOWN_SECRET", `no secret named "${secret}"`);
  const lines = new Set<string>();
  for (const host of meta.hosts) {
    const h = repo.hosts[host];
    if (!h) {
      throw new NixsealError("NIXSEAL_ERR_UNKNOWN_HOST", `secret "${secret}" names host "${host}", which is not registered`, {
        hints: [`run "nixseal host add ${host} --target root@ADDRESS --scan"`, `or "nixseal secrets set ${secret} --rm-host ${host}"`],
      });
    }
    lines.add(canonical(h.hostKey));
  }
  for (const admin of repo.admins) lines.add(canonical(admin.recipient));
  return [...lines].sort();
}

// Public key lines -> canonical form, memoised: rekey asks for every secret's
// set several times and each host key would be parsed again per secret.
const canonicalCache = new Map<string, string>();
function canonical(line: string): string {
  let c = canonicalCache.get(line);
  if (c === undefined) {
    c = canonicalRecipient(line);
    if (canonicalCache.size > 10_000) canonicalCache.clear();
    canonicalCache.set(line, c);
  }
  return c;
}

/**
 * Fingerprint of a recipient set ("sha256:" + hex over the sorted canonical
 * lines). Stored as encryptedTo so rekey can tell which blobs are stale.
 */
export function recipientSetId(lines: string[]): string {
  const text = [...new Set(lines)].sort().join("\n") + "\n";
  return "sha256:" + createHash("sha256").update(text).digest("hex");
}

/**
 * Records a recipient set in repo.recipientSets (so a later rekey knows what a
 * blob holds) and returns its id, for encryptedTo.
 */
export function recordRecipientSet(repo: Repo, lines: string[]): string {
  const id = recipientSetId(lines);
  (repo.recipientSets ??= {})[id] = [...new Set(lines)].sort();
  return id;
}

/**
 * The recipient lines a secret's blob was last encrypted to, from the
 * recorded table; undefined when the repo has no entry for its encryptedTo
 * (older repos) or the entry does not hash to its id (edited by hand).
 */
export function recordedRecipients(repo: Repo, secret: string): string[] | undefined {
  const id = repo.secrets[secret]?.encryptedTo;
  const lines = id === undefined ? undefined : repo.recipientSets?.[id];
  return lines && recipientSetId(lines) === id ? lines : undefined;
}

/** The recorded sets that some secret's encryptedTo still refers to (the rest are dropped on save). */
export function usedRecipientSets(repo: Repo): Record<string, string[]> | undefined {
  if (!repo.recipientSets) return undefined;
  const used = new Set(Object.values(repo.secrets).map((s) => s.encryptedTo));
  const out: Record<string, string[]> = {};
  for (const id of Object.keys(repo.recipientSets).sort()) if (used.has(id)) out[id] = repo.recipientSets[id]!;
  return Object.keys(out).length ? out : undefined;
}

/** Whether the secret's blob was encrypted to a different set than it should be now. */
export function isStale(repo: Repo, secret: string): boolean {
  return repo.secrets[secret]!.encryptedTo !== recipientSetId(recipientLines(repo, secret));
}

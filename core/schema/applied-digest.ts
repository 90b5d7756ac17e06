// The digest of what the agent applies for a set of secrets, and how two sets
// differ. Free of zod: the agent's boot restore compares a bundle with the running
// system (host-secrets.ts, the generated file) without loading any schema.
import { createHash } from "node:crypto";

/** The generated file's format (core/schema/host-secrets.ts). */
export const HOST_SECRETS_FORMAT = "nixseal-host-secrets/v1";

/** What the agent applies for one secret: the part of its metadata a bundle carries. */
export interface AppliedSecret {
  name: string;
  owner: string;
  /** Absent or null: the owner's primary group. */
  group?: string | null;
  mode: string;
  path?: string | null;
  restartUnits: readonly string[];
  reloadUnits: readonly string[];
  neededForUsers?: boolean;
}

/**
 * What a bundle makes the agent apply: its secrets and its templates, one list
 * (names are shared; the generated file lists both the same way).
 */
export function appliedOfBundle(manifest: { secrets: readonly AppliedSecret[]; templates?: readonly AppliedSecret[] }): AppliedSecret[] {
  return [...manifest.secrets, ...(manifest.templates ?? [])];
}

/**
 * JSON text exactly as Nix's builtins.toJSON writes it (no blanks; control
 * characters as \uXXXX except \n \r \t), so nix/module.nix can recompute the
 * digest from the file it reads.
 */
function nixJson(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") {
    let out = '"';
    for (const c of v) {
      const code = c.codePointAt(0)!;
      if (c === '"') out += '\\"';
      else if (c === "\\") out += "\\\\";
      else if (c === "\n") out += "\\n";
      else if (c === "\r") out += "\\r";
      else if (c === "\t") out += "\\t";
      else if (code < 0x20) out += "\\u" + code.toString(16).padStart(4, "0");
      else out += c;
    }
    return out + '"';
  }
  if (Array.isArray(v)) return "[" + v.map(nixJson).join(",") + "]";
  throw new Error(`nixJson: unsupported ${typeof v}`);
}

/**
 * The digest of what the agent applies for a set of secrets (and rendered
 * templates, which count as secrets here): names, owner, group, mode, path,
 * units, neededForUsers. Not values, versions or ciphertext: a rotated
 * value needs no rebuild. The same function serves the generated file (CLI), the
 * bundle a host is asked to activate (agent) and, rewritten in Nix over the same
 * canonical list, nix/module.nix.
 *
 * @param secrets - in any order
 * @returns "sha256:<hex>"
 */
export function appliedDigest(secrets: readonly AppliedSecret[]): string {
  const sorted = [...secrets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const canonical = sorted.map((s) => [s.name, s.owner, s.group ?? null, s.mode, s.path ?? null, [...s.restartUnits], [...s.reloadUnits], s.neededForUsers === true]);
  return "sha256:" + createHash("sha256").update(nixJson([HOST_SECRETS_FORMAT, canonical])).digest("hex");
}

/**
 * How a bundle's secrets differ from what a system was built for.
 *
 * @returns human-readable differences; empty when they agree
 */
export function appliedDifferences(expected: readonly AppliedSecret[], actual: readonly AppliedSecret[]): string[] {
  const exp = new Map(expected.map((s) => [s.name, s]));
  const act = new Map(actual.map((s) => [s.name, s]));
  const out: string[] = [];
  const missing = [...exp.keys()].filter((n) => !act.has(n)).sort();
  const extra = [...act.keys()].filter((n) => !exp.has(n)).sort();
  if (missing.length) out.push(`missing from the bundle: ${missing.join(", ")}`);
  if (extra.length) out.push(`not in the system: ${extra.join(", ")}`);
  for (const [name, e] of [...exp].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const a = act.get(name);
    if (!a) continue;
    const fields: string[] = [];
    for (const k of ["owner", "group", "mode"] as const) if ((e[k] ?? null) !== (a[k] ?? null)) fields.push(k);
    if ((e.path ?? null) !== (a.path ?? null)) fields.push("path");
    if (e.restartUnits.join(" ") !== a.restartUnits.join(" ")) fields.push("restartUnits");
    if (e.reloadUnits.join(" ") !== a.reloadUnits.join(" ")) fields.push("reloadUnits");
    if ((e.neededForUsers === true) !== (a.neededForUsers === true)) fields.push("neededForUsers");
    if (fields.length) out.push(`${name}: ${fields.join(", ")} differ`);
  }
  return out;
}

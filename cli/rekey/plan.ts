import type { Repo } from "../../core/index.js";
import { recipientLines, recordedRecipients } from "../repo/index.js";

/**
 * How one secret gets to its current recipient set:
 * - "add": its blob already holds every recipient of `old` and the new set only
 *   adds to it; keep the file key and payload, append stanzas for `added`.
 * - "full": anything else (a recipient removed or re-keyed, no record of the
 *   old set, --all): a fresh file key and a new payload. `reason` says why,
 *   when the add path was not taken for a set that changed.
 */
export type RekeyStep =
  | { kind: "add"; name: string; lines: string[]; old: string[]; added: string[] }
  | { kind: "full"; name: string; lines: string[]; reason?: string };

/**
 * Decides the step of each named secret. Removals always take the full path,
 * so a removed key never gets the new blob's file key.
 *
 * @param full - force a full re-encryption of every one (`--all`)
 */
export function planRekey(repo: Repo, names: string[], full = false): RekeyStep[] {
  return names.map((name) => {
    const lines = recipientLines(repo, name);
    if (full) return { kind: "full", name, lines };
    const old = recordedRecipients(repo, name);
    if (!old) return { kind: "full", name, lines, reason: "no recorded recipient set for its blob (an older repo, or a hand-edited entry)" };
    const now = new Set(lines);
    if (old.some((line) => !now.has(line))) return { kind: "full", name, lines, reason: "a recipient was removed or its key changed: fresh file key" };
    const before = new Set(old);
    const added = lines.filter((line) => !before.has(line));
    if (added.length === 0) return { kind: "full", name, lines, reason: "its recipients did not change" };
    return { kind: "add", name, lines, old, added };
  });
}

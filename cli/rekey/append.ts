import { readFileSync } from "node:fs";
import { addRecipients, type Identity } from "../../core/index.js";
import { secretFile } from "../repo/index.js";
import type { RekeyStep } from "./plan.js";
import { recipientParser } from "./pool.js";
import type { StagedFiles } from "./stage.js";

type AddStep = Extract<RekeyStep, { kind: "add" }>;

/** A secret the add path could not take, and why; it gets a full re-encryption instead. */
export interface Fallback {
  name: string;
  reason: string;
}

/**
 * Gives each secret's blob its added recipients in place of a re-encryption
 * (core addRecipients: file key and payload kept, header MAC and payload
 * verified, header checked against the recorded old set) and stages the
 * result. A blob that does not fit (its header does not match the record,
 * it does not open, it is missing) is returned as a fallback, not an error:
 * the full path then re-encrypts it or reports the real problem.
 */
export async function appendRecipients(dir: string, steps: AddStep[], identities: Identity[], staged: StagedFiles): Promise<Fallback[]> {
  const recipient = recipientParser();
  const fallbacks: Fallback[] = [];
  for (const step of steps) {
    const file = secretFile(dir, step.name);
    try {
      const [expected, added] = await Promise.all([Promise.all(step.old.map(recipient)), Promise.all(step.added.map(recipient))]);
      // A small file read in this thread: cheaper than four thread-pool round trips, and this loop is CPU-bound.
      const blob = readFileSync(file);
      staged.add(file, addRecipients(blob, identities, added, { expected }));
    } catch (err) {
      fallbacks.push({ name: step.name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return fallbacks;
}

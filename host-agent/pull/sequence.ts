// stateDir/pull-sequence.json: the highest bundle sequence this host has installed from
// a server (and that bundle's id). `pull` refuses any bundle whose sequence is not above
// it, so an old signed bundle replayed by the server, or by anyone between, never
// installs; a local `nixseal-agent rollback` does not lower it. Written through
// temp + fsync + rename after a bundle is activated.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../core/fs.js";

interface PulledMark {
  sequence: number;
  id: string;
}

const FILE = "pull-sequence.json";

/** The mark, or undefined when this host never pulled (a damaged file counts as never: the signature still gates every bundle). */
export function readPulledMark(stateDir: string): PulledMark | undefined {
  try {
    const m = JSON.parse(readFileSync(join(stateDir, FILE), "utf8")) as Partial<PulledMark>;
    return Number.isSafeInteger(m.sequence) && typeof m.id === "string" ? { sequence: m.sequence!, id: m.id } : undefined;
  } catch {
    return undefined;
  }
}

/** Raises the mark to this bundle (never lowers it). */
export async function raisePulledMark(stateDir: string, mark: PulledMark): Promise<void> {
  const now = readPulledMark(stateDir);
  if (now && now.sequence >= mark.sequence) return;
  await writeFileAtomic(join(stateDir, FILE), JSON.stringify(mark) + "\n", 0o600);
}

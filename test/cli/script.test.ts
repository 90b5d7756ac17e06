// Transcript tests: each testdata/*.txt is a session at the CLI (see harness.ts for the commands).
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { runTranscript } from "./harness.js";

const dir = join(import.meta.dirname, "testdata");
const scripts = (await readdir(dir)).filter((f) => f.endsWith(".txt")).sort();

describe("cli transcripts", () => {
  for (const name of scripts) {
    it(name, async () => {
      const work = await mkdtemp(join(tmpdir(), "nixseal-script-"));
      try {
        await runTranscript(await readFile(join(dir, name), "utf8"), work);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }, 60_000);
  }
});

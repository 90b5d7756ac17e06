// docs/coming-from-nixops.md and docs/coming-from-agenix.md are real sessions
// (scripts/docs-transcripts.ts): run them again with the built CLI and check every
// command still prints what the pages show. Keys, fingerprints and timings are new
// every run and are compared by shape.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderPages } from "../../../scripts/docs-transcripts.js";

const mask = (text: string): string =>
  text
    .replace(/SHA256:[A-Za-z0-9+/]{43}/g, "SHA256:<fingerprint>")
    .replace(/age1[02-9ac-hj-np-z]{58}/g, "age1<recipient>")
    .replace(/ in \d+ ms:/g, " in <n> ms:");

describe("the migration pages are real transcripts", () => {
  it("a fresh run of each session prints what the page shows", () => {
    for (const page of renderPages()) {
      expect(mask(page.text), `${page.file} is stale: run npm run build && npm run docs:transcripts`).toBe(mask(readFileSync(page.file, "utf8")));
    }
  }, 60_000);
});

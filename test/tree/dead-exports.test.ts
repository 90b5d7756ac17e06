// No dead exports: every name core/, cli/, host-agent/ and server/ export is imported
// somewhere (an export nobody imports is either dead code or a name that should be
// file-private).
import { describe, expect, it } from "vitest";
import { deadExports } from "./dead-exports.js";

describe("exports", () => {
  it("are each imported somewhere", () => {
    expect(deadExports()).toEqual([]);
  }, 120_000);
});

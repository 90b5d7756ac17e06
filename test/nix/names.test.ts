// The one secret name rule: core/schema/names.json, read by core/schema/names.ts
// (CLI and agent) and by nix/module.nix (builtins.match). The same samples must
// get the same answer from zod and from Nix, and every accepted name must be a
// valid systemd unit name as <name>-key.service.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { secretName, secretNameProblems, storedSecretName, suggestSecretName } from "../../core/schema/names.js";
import { ROOT, haveNix, nixEval } from "./nix.js";

const rules = JSON.parse(readFileSync(`${ROOT}/core/schema/names.json`, "utf8")).secretName as { pattern: string };
const SAMPLES = ["caddy-tls", "app.env", "_lead", "Mixed.Case_1-x", "a".repeat(128), "a".repeat(129), "a@b", "a+b", ".hidden", "-x", "a/b", "x y", "", "é", "a:b", "a\\b"];

// systemd's unit name rule (unit-name.c): [A-Za-z0-9:_.\\-] and one "@" for templates.
const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+\.service$/;

describe("the secret name rule", () => {
  it("accepts letters, digits and . _ - (not first: . -), up to 128", () => {
    const ok = SAMPLES.filter((s) => secretName.safeParse(s).success);
    expect(ok).toEqual(["caddy-tls", "app.env", "_lead", "Mixed.Case_1-x", "a".repeat(128)]);
  });

  it.skipIf(!haveNix())("nix/module.nix's reading of names.json agrees with zod on every sample", () => {
    const list = `[ ${SAMPLES.map((s) => JSON.stringify(s)).join(" ")} ]`;
    const nix = nixEval(`let r = (builtins.fromJSON (builtins.readFile ./core/schema/names.json)).secretName; in map (s: builtins.match r.pattern s != null) ${list}`) as boolean[];
    expect(nix).toEqual(SAMPLES.map((s) => secretName.safeParse(s).success));
    expect(readFileSync(`${ROOT}/nix/module.nix`, "utf8")).toContain("../core/schema/names.json");
  });

  it("every accepted name makes a valid unit name <name>-key.service and a single file name", () => {
    for (const s of SAMPLES.filter((x) => secretName.safeParse(x).success)) {
      expect(`${s}-key.service`).toMatch(UNIT_NAME);
      expect(`${s}-key.service`.length).toBeLessThanOrEqual(255);
      expect(s).not.toMatch(/^\.|\//);
    }
    expect(rules.pattern).not.toMatch(/@|\+/);
  });

  it("refuses names that differ only in case from another, and names the rule refuses", () => {
    expect(secretNameProblems(["db", "web-tls", "Db", "a+b", "DB"])).toEqual([
      { name: "Db", problem: "case", other: "DB" },
      { name: "a+b", problem: "rule" },
      { name: "db", problem: "case", other: "DB" },
    ]);
    expect(secretNameProblems(["db", "web-tls"])).toEqual([]);
  });

  it("still reads names an older rule allowed (stored generations, a repo to rename), and suggests a new one", () => {
    expect(storedSecretName.safeParse("a+b@c").success).toBe(true);
    expect(storedSecretName.safeParse("a..b").success).toBe(false);
    expect(suggestSecretName("a+b@c")).toBe("a-b-c");
    expect(secretName.safeParse(suggestSecretName("+x")).success).toBe(true);
  });
});

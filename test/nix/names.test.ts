// The module's option types accept exactly what the agent's zod schemas
// (core/schema/names.ts) accept, so a declaration NixOS lets through is one
// the agent takes, and a bad one fails at evaluation, not at deploy.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fileMode, principal, secretName, unitName } from "../../core/schema/names.js";
import { ROOT, haveNix, nixEval } from "./nix.js";

const moduleText = readFileSync(`${ROOT}/nix/module.nix`, "utf8");

/** The Nix string literal bound to `name` in module.nix (strMatching or plain). */
function literal(re: RegExp): string {
  const m = re.exec(moduleText);
  if (!m) throw new Error(`nix/module.nix has no ${re}`);
  return m[1];
}

const cases: [string, string, { safeParse(v: unknown): { success: boolean } }, string[]][] = [
  ["owner/group", literal(/principal = types\.strMatching ("(?:[^"\\]|\\.)*");/), principal,
    ["root", "caddy", "_apt", "systemd-network", "machine$", "0", "4294967295", "Caddy", "-x", "a b", "", "12345678901", "a".repeat(33)]],
  ["restartUnits/reloadUnits", literal(/unitName = types\.strMatching ("(?:[^"\\]|\\.)*");/), unitName,
    ["caddy.service", "podman-app.service", "getty@tty1.service", "run-nix\\x2dseal.mount", "keys.target", "caddy", "a/b.service", "caddy.scope", "x.service ", ""]],
  ["secret names", literal(/secretName = ("(?:[^"\\]|\\.)*");/), secretName,
    ["caddy-tls", "app.env", "a@b+c_d", ".hidden", "a/b", "a".repeat(128), "a".repeat(129), "", "-x", "x y"]],
  ["mode", literal(/mode = mkOption \{\s*type = types\.strMatching ("(?:[^"\\]|\\.)*");/), fileMode,
    ["0400", "440", "0777", "0800", "04000", "rw", ""]],
];

describe.skipIf(!haveNix())("module option types and core/schema/names.ts", () => {
  for (const [what, nixLiteral, schema, samples] of cases) {
    it(`agree on ${what}`, () => {
      const list = `[ ${samples.map((s) => JSON.stringify(s).replace(/\$\{/g, "\\${")).join(" ")} ]`;
      const nix = nixEval(`map (s: builtins.match ${nixLiteral} s != null) ${list}`) as boolean[];
      const zod = samples.map((s) => schema.safeParse(s).success);
      expect(nix).toEqual(zod);
      expect(zod).toContain(true);
      expect(zod).toContain(false);
    });
  }
});

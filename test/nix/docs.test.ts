// docs/nixos.md's option table matches nix/module.nix: every option is listed
// (and nothing else), each with the module's default.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROOT } from "./nix.js";

const moduleText = readFileSync(`${ROOT}/nix/module.nix`, "utf8");
const docs = readFileSync(`${ROOT}/docs/nixos.md`, "utf8");
const paths = JSON.parse(readFileSync(`${ROOT}/host-agent/systemd/units.json`, "utf8")).paths as Record<string, string>;

/** The text between `start` and the first line that closes it at `indent`. */
function block(text: string, start: string, close: RegExp): string {
  const i = text.indexOf(start);
  if (i < 0) throw new Error(`nix/module.nix has no ${start}`);
  const rest = text.slice(i + start.length);
  const m = close.exec(rest);
  return m ? rest.slice(0, m.index) : rest;
}

/** Options declared at one indentation inside a block, with the default each shows in the manual. */
function declared(text: string, indent: number): Map<string, string> {
  const out = new Map<string, string>();
  const re = new RegExp(`^ {${indent}}([A-Za-z]+) = (mkOption|mkEnableOption)`, "gm");
  const starts = [...text.matchAll(re)];
  starts.forEach((m, k) => {
    const body = text.slice(m.index!, starts[k + 1]?.index ?? text.length);
    if (m[2] === "mkEnableOption") return void out.set(m[1], "false");
    const shown = /defaultText = (?:literalExpression|lib\.literalMD)\s*(?:"((?:[^"\\]|\\.)*)"|''([\s\S]*?)'')/.exec(body);
    if (shown) return void out.set(m[1], (shown[1] ?? shown[2]).replace(/\\"/g, '"').trim());
    const def = /default = ([^;]*);/.exec(body);
    if (!def) throw new Error(`option ${m[1]} in nix/module.nix has no default`);
    const p = /^paths\.(\w+)$/.exec(def[1].trim());
    out.set(m[1], p ? JSON.stringify(paths[p[1]]) : def[1].trim());
  });
  return out;
}

const top = declared(block(moduleText, "options.services.nixseal = {", /^  };$/m), 4);
const server = declared(block(moduleText, "\n    server = {", /^    };$/m), 6);
const expected = new Map<string, string>([
  ...[...top].map(([k, v]) => [`services.nixseal.${k}`, v] as const),
  ...[...server].map(([k, v]) => [`services.nixseal.server.${k}`, v] as const),
]);

/** Rows of the options table: option -> default column, as plain text. */
const rows = new Map<string, string>();
for (const line of docs.split("\n")) {
  const cells = line
    .replace(/\\\|/g, "\u0000")
    .split("|")
    .map((c) => c.replace(/\u0000/g, "|").trim());
  const name = /^`(services\.nixseal[^`]*)`$/.exec(cells[1] ?? "");
  if (name) rows.set(name[1], cells[3].replace(/^`(.*)`$/, "$1"));
}

describe("nix/module.nix options", () => {
  const blocks = [...moduleText.matchAll(/^ +([A-Za-z]+) = mkOption \{([\s\S]*?)^ +\};$/gm)];

  it("all have a type, a default, a description, and an example unless read-only", () => {
    expect(blocks.length).toBe(top.size - 1 + server.size); // enable is an mkEnableOption
    for (const [, name, body] of blocks) {
      expect(body, name).toMatch(/\btype = /);
      expect(body, name).toMatch(/\bdefault = /);
      expect(body, name).toMatch(/\bdescription = /);
      if (!/readOnly = true;/.test(body)) expect(body, name).toMatch(/\bexample = /);
    }
  });
});

describe("docs/nixos.md options", () => {
  it("finds the module's options (the parser is not blind)", () => {
    expect(top.size).toBeGreaterThanOrEqual(10);
    expect(top.get("keepGenerations")).toBe("5");
    expect(top.get("keyTimeout")).toBe("30");
    expect(server.get("url")).toBe("null");
    expect(server.get("follow")).toBe("false");
  });

  it("lists every option of nix/module.nix, and no other", () => {
    expect([...rows.keys()].sort()).toEqual([...expected.keys()].sort());
  });

  for (const [name, def] of expected) {
    it(`gives ${name} the module's default`, () => {
      expect(rows.get(name)).toBe(def);
    });
  }
});

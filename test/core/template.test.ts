// The template syntax: {{ secret "NAME" }} only; other braces are text; a malformed
// placeholder is an error with its line and column.
import { describe, expect, it } from "vitest";
import { parseTemplate, renderTemplate, templateSecrets } from "../../core/template.js";

describe("templates", () => {
  it("finds the placeholders, keeps every other byte, and renders values as they are", () => {
    const text = 'a {{ secret "x" }} b {{secret "y"}} {$ENV} {{ .Go }} {http.host}\n{{  secret   "x"  }}';
    const parts = parseTemplate(text, "t");
    expect(templateSecrets(parts)).toEqual(["x", "y"]);
    const out = renderTemplate(parts, new Map([["x", Buffer.from("X\n")], ["y", Buffer.from([0, 255])]]), "t");
    expect(out).toEqual(Buffer.concat([Buffer.from("a X\n b "), Buffer.from([0, 255]), Buffer.from(" {$ENV} {{ .Go }} {http.host}\nX\n")]));
    expect(renderTemplate(parseTemplate("no placeholders {{ }}", "t"), new Map(), "t").toString()).toBe("no placeholders {{ }}");
  });

  it("refuses a malformed placeholder with its line and column", () => {
    for (const [text, where] of [
      ['ok\n  {{ secret x }}', "t:2:3"],
      ["{{ secret 'x' }}", "t:1:1"],
      ['{{ secret "x" }', "t:1:1"],
      ['{{ secret "a\nb" }}', "t:1:1"],
    ] as const) {
      expect(() => parseTemplate(text, "t")).toThrow(`${where}: a placeholder is written {{ secret "NAME" }}`);
    }
  });

  it("a value that is missing when rendering is an error, not an empty string", () => {
    expect(() => renderTemplate(parseTemplate('{{ secret "gone" }}', "t"), new Map(), "t")).toThrow(/template t uses secret gone, which is not available/);
  });
});

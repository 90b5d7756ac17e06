// The layering the code promises: no import cycle anywhere (a cycle makes the order
// modules initialise in depend on who imports first), and cli/, host-agent/ and
// server/ import core/ only, never each other.
import { describe, expect, it } from "vitest";
import { importCycles, importGraph, sourceFiles } from "./import-graph.js";

const graph = importGraph(sourceFiles(["core", "cli", "host-agent", "server", "bench", "scripts", "test"]));

describe("imports", () => {
  it("reads the whole tree", () => {
    expect(graph.size).toBeGreaterThan(150);
    expect(graph.get("cli/main.ts")).toContain("cli/output.ts");
  });

  it("have no cycle", () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it("finds a cycle when there is one", () => {
    const g = new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]], ["d.ts", ["a.ts"]]]);
    expect(importCycles(g)).toEqual([["a.ts", "b.ts", "c.ts"]]);
  });

  it("keep cli, host-agent and server apart: each imports core only", () => {
    const parts = ["cli", "host-agent", "server"];
    const crossings: string[] = [];
    for (const [file, targets] of graph) {
      const from = file.split("/")[0]!;
      if (!parts.includes(from)) continue;
      for (const t of targets) {
        const to = t.split("/")[0]!;
        if (to !== from && to !== "core") crossings.push(`${file} -> ${t}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it("keep core free of the parts", () => {
    const up = [...graph].flatMap(([file, targets]) => (file.startsWith("core/") ? targets.filter((t) => !t.startsWith("core/")).map((t) => `${file} -> ${t}`) : []));
    expect(up).toEqual([]);
  });
});

// docs/errors.md against the three binaries: every NIXSEAL_ERR_* code the sources can
// raise has a row, and the exit-status policy the page states is what each binary does
// (usage errors 2, an unexpected error EXIT_INTERNAL).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { main as cliMain } from "../../cli/main.js";
import { EXIT_INTERNAL, EXIT_USAGE } from "../../core/errors.js";
import { main as agentMain } from "../../host-agent/commands/main.js";
import { main as serverMain } from "../../server/main.js";
import { ROOT, sourceFiles } from "./import-graph.js";
import { runNixseal, testEnv } from "../cli/harness.js";

const doc = readFileSync(join(ROOT, "docs", "errors.md"), "utf8");
const documented = new Set([...doc.matchAll(/^\| (NIXSEAL_ERR_[A-Z0-9_]+) \|/gm)].map((m) => m[1]!));

describe("docs/errors.md", () => {
  it.each(["core", "cli", "host-agent", "server"])("has a row for every code %s/ can raise", (part) => {
    const raised = new Set<string>();
    for (const f of sourceFiles([part])) for (const m of readFileSync(join(ROOT, f), "utf8").matchAll(/NIXSEAL_ERR_[A-Z0-9_]+/g)) raised.add(m[0]);
    expect(raised.size).toBeGreaterThan(3);
    expect([...raised].filter((c) => !documented.has(c)).sort()).toEqual([]);
  });

  it("states the exit statuses the binaries use", () => {
    expect(doc).toMatch(new RegExp(`^\\| ${EXIT_USAGE} \\| usage`, "m"));
    expect(doc).toMatch(new RegExp(`^\\| ${EXIT_INTERNAL} \\| an unexpected error`, "m"));
  });
});

/** A stdout whose write throws: an unexpected error inside any command. */
class Broken {
  write(): never {
    throw new Error("stdout is gone");
  }
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) }), text: () => chunks.join("") };
}

describe("exit status policy, all three binaries", () => {
  it("an unexpected error exits EXIT_INTERNAL and says it is a bug", async () => {
    const agentErr = sink();
    expect(await agentMain(["--version"], { stdout: new Broken(), stderr: agentErr.stream })).toBe(EXIT_INTERNAL);
    expect(agentErr.text()).toMatch(/^nixseal-agent: error: internal error: stdout is gone \[NIXSEAL_ERR_INTERNAL\]\nnixseal-agent: hint: this is a bug/);

    const serverErr = sink();
    expect(await serverMain(["--version"], { stdout: new Broken() as unknown as Writable, stderr: serverErr.stream })).toBe(EXIT_INTERNAL);
    expect(serverErr.text()).toMatch(/^nixseal-server: error: internal error: stdout is gone \[NIXSEAL_ERR_INTERNAL\]\n/);

    const cliErr = sink();
    const io = { stdin: Readable.from([]), stdout: new Broken() as unknown as Writable, stderr: cliErr.stream, env: testEnv(ROOT), cwd: ROOT };
    expect(await cliMain(["--version"], io)).toBe(EXIT_INTERNAL);
    expect(cliErr.text()).toMatch(/^nixseal: error: internal error: stdout is gone \[NIXSEAL_ERR_INTERNAL\]\nnixseal: hint: this is a bug/);
  });

  it("a usage error exits EXIT_USAGE", async () => {
    const quiet = () => sink().stream;
    expect(await agentMain(["frobnicate"], { stdout: quiet(), stderr: quiet() })).toBe(EXIT_USAGE);
    expect(await serverMain(["--bogus"], { stdout: quiet(), stderr: quiet() })).toBe(EXIT_USAGE);
    const opts = { cwd: ROOT, env: testEnv(ROOT) };
    expect(await runNixseal(["deploy", "-j", "0"], opts)).toMatchObject({ code: EXIT_USAGE, stderr: expect.stringContaining("--parallel wants a whole number >= 1") });
    expect((await runNixseal(["--bogus"], opts)).code).toBe(EXIT_USAGE);
  });
});

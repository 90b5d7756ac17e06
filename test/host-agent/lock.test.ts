import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { acquireLock } from "../../host-agent/generations/lock.js";

const dir = mkdtempSync(join(tmpdir(), "nixseal-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("agent lock", () => {
  it("is exclusive while its owner runs and released after", () => {
    const release = acquireLock(dir);
    expect(readFileSync(join(dir, ".lock"), "utf8")).toMatch(new RegExp(`^${process.pid} \\d+$`));
    release();
    acquireLock(dir)();
  });

  it("refuses while another live process holds it, naming its pid", async () => {
    const child = spawn("sleep", ["30"]);
    const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    writeFileSync(join(dir, ".lock"), `${child.pid} ${start}`);
    try {
      expect(() => acquireLock(dir)).toThrow(expect.objectContaining({ code: "NIXSEAL_ERR_AGENT_BUSY", message: expect.stringContaining(String(child.pid)) }));
    } finally {
      child.kill("SIGKILL");
      await new Promise((r) => child.on("exit", r));
    }
    // its owner died: taken over
    acquireLock(dir)();
  });

  it("takes over a lock whose pid now belongs to another process (pid reuse)", () => {
    writeFileSync(join(dir, ".lock"), `1 12345`); // pid 1 runs, but started at another time
    acquireLock(dir)();
  });
});

// A reader that closes the pipe before nixseal or nixseal-agent writes (`… | head`): no
// stack trace, no EPIPE on stderr, the command's own exit code.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const BINS = { nixseal: resolve("dist/cli/bin.js"), "nixseal-agent": resolve("dist/host-agent/bin.cjs") };

describe.skipIf(!existsSync(BINS.nixseal))("stdout closed by the reader", () => {
  it.each(Object.entries(BINS))("%s --help into a closed pipe exits 0 with nothing on stderr", async (_name, bin) => {
    const child = spawn(process.execPath, [bin, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy(); // the read end closes before the child has started writing
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((done) => child.on("close", (c) => done(c)));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});

// The agent process: stdout and stderr around main(). bin.cts loads this module, or its
// build-time bundle (agent.bundle.cjs) when the build made one. No top-level await here:
// the bundle's command chunks import from the boot chunk this module ends up in.
import { writeSync } from "node:fs";
import { keepMemoryOutOfCoreDumps } from "../core/process.js";
import type { Output } from "./commands/io.js";
import { main } from "./commands/main.js";

// stdout and stderr as plain write(2) calls. The boot restore prints a line or two, and
// building process.stderr as a pipe or journal-socket stream costs it ~4 ms; the stream
// is made only when a direct write fails (a full non-blocking pipe), and from then on
// carries everything, in order. A reader that closed the pipe (`nixseal-agent status |
// head`) gets nothing more, and the command finishes its work rather than dying on EPIPE.
function fdOutput(fd: number, stream: () => Output): Output {
  let fallback = false;
  let closed = false;
  return {
    write(data: string | Uint8Array): unknown {
      if (closed) return false;
      if (fallback) return stream().write(data);
      const bytes = typeof data === "string" ? Buffer.from(data) : data;
      let off = 0;
      try {
        while (off < bytes.length) off += writeSync(fd, bytes, off);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EPIPE") {
          closed = true;
          return false;
        }
        fallback = true;
        return stream().write(bytes.subarray(off));
      }
    },
  };
}

/** Runs the agent with the process's arguments and output; resolves to the exit code. */
export function run(argv: string[]): Promise<number> {
  // before any key or plaintext is in memory: a crash dumps none of it
  keepMemoryOutOfCoreDumps();
  return main(argv, { stdout: fdOutput(1, () => process.stdout), stderr: fdOutput(2, () => process.stderr) });
}

#!/usr/bin/env node
import { keepMemoryOutOfCoreDumps } from "../core/process.js";
import { processIo } from "./io.js";
import { main } from "./main.js";

// A reader that stops early (`nixseal secrets list | head -1`) closes the pipe: that is
// not this command's failure, so it finishes its work (files are written atomically and
// the repo lock released) instead of dying with a stack trace; later output goes nowhere.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
});

// identities and values pass through this process's memory: a crash dumps none of it
keepMemoryOutOfCoreDumps();
process.exitCode = await main(process.argv.slice(2), processIo());

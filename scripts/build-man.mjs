// Writes dist/man/nixseal.1 from the built CLI's command table (cli/completion/man.ts):
// the man page npm installs with the package ("man" in package.json). Run by the build.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

const root = new URL("../", import.meta.url);
const { buildProgram } = await import(new URL("dist/cli/main.js", root).href);
const { commandSpec } = await import(new URL("dist/cli/completion/model.js", root).href);
const { manPage } = await import(new URL("dist/cli/completion/man.js", root).href);
const { version } = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: {}, cwd: process.cwd() };
mkdirSync(new URL("dist/man/", root), { recursive: true });
writeFileSync(new URL("dist/man/nixseal.1", root), manPage(commandSpec(buildProgram({ io, exitCode: 0 })), version));

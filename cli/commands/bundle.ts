import type { Command } from "commander";
import { buildHostBundle } from "../bundle/index.js";
import { printInfo, printJson } from "../output.js";
import { openRepo } from "../repo/index.js";
import { resolve } from "node:path";
import type { CommandContext } from "./context.js";

/** `nixseal bundle HOST --out DIR`: the host's bundle for `nixseal-agent import` (image baking, air-gapped hosts). */
export function registerBundle(program: Command, ctx: CommandContext): void {
  program
    .command("bundle")
    .description("write one host's bundle (manifest.json + its .age files) for nixseal-agent import")
    .argument("<host>", "host name")
    .requiredOption("-o, --out <dir>", "output directory (new or empty)")
    .option("--json", "print the manifest")
    .addHelpText("after", "\nOn the host: nixseal-agent import DIR (stores it as a new generation and activates it).")
    .action(async (host: string, o: { out: string; json?: boolean }) => {
      const loaded = await openRepo(ctx.io.cwd);
      const out = resolve(ctx.io.cwd, o.out);
      const { manifest } = await buildHostBundle(loaded, host, out);
      if (o.json) printJson(ctx.io, manifest);
      else printInfo(ctx.io, `wrote the bundle of ${host} (${manifest.secrets.length} secrets, id ${manifest.id.slice(0, 16)}) to ${out}`);
    });
}

import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { NixsealError } from "../../core/index.js";
import { bashCompletion } from "../completion/bash.js";
import { fishCompletion } from "../completion/fish.js";
import { commandSpec } from "../completion/model.js";
import { zshCompletion } from "../completion/zsh.js";
import { findRepo, repoFile } from "../repo/index.js";
import type { CommandContext } from "./context.js";

const SHELLS = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion };
const LISTS = ["hosts", "tags", "secrets"] as const;

/** The root program, from any of its commands. */
function root(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/**
 * Names for a completion, from the repo at or above cwd. Quiet and forgiving: a shell
 * asking in a directory without a repo, or with a broken nixseal.json, gets nothing.
 */
async function namesFor(cwd: string, kinds: string[]): Promise<string[]> {
  let json: { hosts?: Record<string, { tags?: unknown }>; secrets?: Record<string, unknown> };
  try {
    json = JSON.parse(await readFile(repoFile(await findRepo(cwd)), "utf8"));
  } catch {
    return [];
  }
  const hosts = Object.keys(json.hosts ?? {}).sort();
  const out: string[] = [];
  for (const k of kinds) {
    if (k === "hosts") out.push(...hosts);
    if (k === "secrets") out.push(...Object.keys(json.secrets ?? {}).sort());
    if (k === "tags") {
      const tags = new Set(hosts.flatMap((h) => (Array.isArray(json.hosts![h]!.tags) ? (json.hosts![h]!.tags as unknown[]).map(String) : [])));
      out.push(...[...tags].sort().map((t) => `@${t}`));
    }
  }
  return out;
}

/** `nixseal completion bash|zsh|fish`, and the hidden `completion list` the scripts call. */
export function registerCompletion(program: Command, ctx: CommandContext): void {
  const completion = program.command("completion").description("print the shell completion script for bash, zsh or fish");
  for (const [shell, generate] of Object.entries(SHELLS)) {
    completion
      .command(shell)
      .description(`the ${shell} completion script (commands, options, hosts, @tags, secret names)`)
      .addHelpText("after", `\n${INSTALL[shell as keyof typeof SHELLS]}`)
      .action((_opts: unknown, cmd: Command) => {
        ctx.io.stdout.write(generate(commandSpec(root(cmd))));
      });
  }
  completion
    .command("list", { hidden: true })
    .argument("<kinds...>", LISTS.join(", "))
    .action(async (kinds: string[]) => {
      const bad = kinds.find((k) => !(LISTS as readonly string[]).includes(k));
      if (bad) throw new NixsealError("NIXSEAL_ERR_USAGE", `nothing to list as "${bad}"`, { hints: [`one of ${LISTS.join(", ")}`], exitCode: 2 });
      const names = await namesFor(ctx.io.cwd, kinds);
      if (names.length) ctx.io.stdout.write(names.join("\n") + "\n");
    });
}

const INSTALL: Record<keyof typeof SHELLS, string> = {
  bash: `Load it in this shell:    source <(nixseal completion bash)
Install it for everyone:  nixseal completion bash > /usr/share/bash-completion/completions/nixseal`,
  zsh: `Install it as _nixseal in a directory of $fpath, e.g.:
  nixseal completion zsh > "\${fpath[1]}/_nixseal"   (then start a new shell; compinit must run)`,
  fish: `Install it:  nixseal completion fish > ~/.config/fish/completions/nixseal.fish`,
};

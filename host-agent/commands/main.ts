// nixseal-agent's command line: parse, dispatch and --help from the command table
// (table.ts), and the one place that prints an error.
import { HOST_PATHS } from "../../core/on-host.js";
import { printError } from "../../core/print-error.js";
import type { AgentIo } from "./io.js";
import { commandName, COMMON_OPTIONS, OPTIONS, optionsUsage, parseOptions, usageError } from "./options.js";
import { COMMANDS, type AgentCommand } from "./table.js";

const WIDTH = 80;
/** Where a command's description starts in the usage text. */
const COLUMN = 23;

/** Words of text (a bracketed or parenthesised group is one word) filled after `lead`, continued at column `indent`. */
function fill(lead: string, text: string, indent: number): string {
  const lines = [lead];
  for (const word of text.split(/ (?![^[(]*[\])])/)) {
    const line = lines.at(-1)!;
    if (line.trim() !== "" && line.length + 1 + word.length > WIDTH) lines.push(" ".repeat(indent) + word);
    else lines[lines.length - 1] = line === "" || line.endsWith(" ") ? line + word : `${line} ${word}`;
  }
  return lines.join("\n");
}

/** One command's lines in the usage text: synopsis, then what it does from COLUMN. */
function usageLines(cmd: AgentCommand): string {
  return cmd.usage
    .map(([synopsis, what]) => {
      const head = `  ${synopsis}`;
      return head.length < COLUMN - 1 ? fill(head.padEnd(COLUMN), what, COLUMN) : `${head}\n${fill(" ".repeat(COLUMN), what, COLUMN)}`;
    })
    .join("\n");
}

function usage(): string {
  return `${fill("usage: nixseal-agent COMMAND", optionsUsage(COMMON_OPTIONS), 21)}

${COMMANDS.map(usageLines).join("\n")}

config: ${HOST_PATHS.config} (optional), see docs/agent.md; the --*-dir and
--identity options override it (tests, unusual layouts);
nixseal-agent COMMAND --help describes one command
`;
}

/** `nixseal-agent NAME --help`: each synopsis with the rest of its options, then the help. */
function commandUsage(cmd: AgentCommand): string {
  const heads = cmd.usage.map(([synopsis]) => {
    const more = cmd.options.filter((o) => !synopsis.includes(OPTIONS[o].flag));
    return fill(`usage: nixseal-agent ${synopsis}`, optionsUsage([...more, ...COMMON_OPTIONS]), 22 + cmd.name.length);
  });
  return `${heads.join("\n")}\n\n${cmd.help ?? `${usageLines(cmd)}\n`}`;
}

/**
 * Runs one agent command.
 *
 * @returns the exit code (1 when any secret failed, so a oneshot unit shows it)
 */
export async function main(argv: string[], io: AgentIo): Promise<number> {
  try {
    if (argv[0] === "--version" || argv[0] === "version") {
      io.stdout.write(`nixseal-agent ${(await import("../../core/version.js")).nixsealVersion()}\n`);
      return 0;
    }
    const { name, rest } = commandName(argv);
    const help = argv.includes("-h") || argv.includes("--help");
    const cmd = COMMANDS.find((c) => c.name === name);
    if (help || name === undefined || name === "help") {
      const text = help && cmd ? commandUsage(cmd) : usage();
      (name === undefined && !help ? io.stderr : io.stdout).write(text);
      return name === undefined && !help ? 2 : 0;
    }
    if (!cmd) throw usageError(`unknown command ${name}`);
    const hint = [`run nixseal-agent ${cmd.name} --help`];
    const { operands, values } = parseOptions(rest, [...COMMON_OPTIONS, ...cmd.options], hint);
    if (operands.length !== cmd.operands.length) {
      const want = cmd.operands.length === 1 ? "exactly one argument" : `exactly ${cmd.operands.length} arguments`;
      throw usageError(cmd.operands.length === 0 ? `${cmd.name} takes no arguments` : `${cmd.name} needs ${want}: ${cmd.operands.join(" ")}`, hint);
    }
    return await cmd.run({ operands, values }, io);
  } catch (err) {
    return printError(io.stderr, "nixseal-agent", err);
  }
}

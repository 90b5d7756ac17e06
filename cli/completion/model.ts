// The command table as data, for the generators of shell completions and the man page:
// every command, its operands and options, read from the commander program that main()
// runs, so a new command or option appears in both without being listed anywhere else.
import type { Argument, Command, Option } from "commander";

/**
 * What a value is, so a shell can offer candidates: host names (one, or a selection with
 * @tags and globs), secret names, files, directories, a fixed set, or free text.
 */
export type ValueKind =
  | { kind: "host" }
  | { kind: "hosts" }
  | { kind: "secret" }
  | { kind: "file" }
  | { kind: "dir" }
  | { kind: "choice"; values: string[] }
  | { kind: "text" };

export interface OptionSpec {
  /** As written in --help: "-i, --identity <file>". */
  flags: string;
  long?: string;
  short?: string;
  description: string;
  /** The value it takes, or undefined for a switch. */
  value?: ValueKind;
  /** Its placeholder, e.g. "file" for <file>. */
  placeholder?: string;
}

export interface OperandSpec {
  name: string;
  required: boolean;
  variadic: boolean;
  description: string;
  value: ValueKind;
}

export interface CommandSpec {
  name: string;
  /** Words from the program: ["secrets", "add"]. */
  path: string[];
  description: string;
  /** "[options] <name>" as commander prints it. */
  usage: string;
  operands: OperandSpec[];
  options: OptionSpec[];
  subcommands: CommandSpec[];
  /** Text --help prints after the option list (details, examples). */
  helpAfter: string;
}

// Value kinds by option name, then by placeholder; operands by name, where "name" and
// "names" mean the noun of the command group they are in (host rm NAME, secrets cat NAME).
const OPTION_KINDS: Record<string, ValueKind["kind"]> = {
  host: "hosts",
  "add-host": "hosts",
  "rm-host": "hosts",
  on: "hosts",
};
const PLACEHOLDER_KINDS: Record<string, ValueKind["kind"]> = { file: "file", dir: "dir", path: "file", state: "file" };
const OPERAND_KINDS: Record<string, ValueKind["kind"]> = { hosts: "hosts", host: "host", input: "file", state: "file", dir: "dir", file: "file" };
const GROUP_NOUNS: Record<string, { one: ValueKind["kind"]; many: ValueKind["kind"] }> = {
  host: { one: "host", many: "hosts" },
  secrets: { one: "secret", many: "secret" },
};

function kindOf(k: ValueKind["kind"]): ValueKind {
  return k === "choice" ? { kind: "text" } : ({ kind: k } as ValueKind);
}

function optionSpec(o: Option): OptionSpec {
  const takesValue = o.required || o.optional;
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1];
  const name = o.long?.replace(/^--/, "");
  let value: ValueKind | undefined;
  if (takesValue) {
    if (o.argChoices?.length) value = { kind: "choice", values: [...o.argChoices] };
    else value = kindOf(OPTION_KINDS[name ?? ""] ?? PLACEHOLDER_KINDS[placeholder ?? ""] ?? "text");
  }
  return { flags: o.flags, long: o.long, short: o.short, description: o.description, value, placeholder };
}

function operandSpec(a: Argument, group: string | undefined): OperandSpec {
  const name = a.name();
  const noun = group ? GROUP_NOUNS[group] : undefined;
  let kind = OPERAND_KINDS[name];
  if (noun && name === "name") kind = noun.one;
  if (noun && name === "names") kind = noun.many;
  return { name, required: a.required, variadic: a.variadic, description: a.description, value: kindOf(kind ?? "text") };
}

/** The text a command's --help prints after its options (its addHelpText("after") parts). */
function helpAfterOf(cmd: Command): string {
  let out = "";
  for (const listener of (cmd as unknown as NodeJS.EventEmitter).listeners("afterHelp")) {
    (listener as (ctx: { error: boolean; command: Command; write: (s: string) => void }) => void)({ error: false, command: cmd, write: (s) => (out += s) });
  }
  return out.replace(/^\n+|\s+$/g, "");
}

/**
 * Reads a commander program (hidden commands and options left out; --help and --version
 * included, as the shell should offer them).
 */
export function commandSpec(cmd: Command, path: string[] = []): CommandSpec {
  const visible = (c: Command) => !(c as unknown as { _hidden?: boolean })._hidden;
  const group = path.at(-2); // "secrets" for secrets cat: the noun of "name"
  const options = cmd.options.filter((o) => !o.hidden).map(optionSpec);
  const help = (cmd as unknown as { _getHelpOption?: () => Option | null })._getHelpOption?.();
  if (help && !options.some((o) => o.long === help.long)) options.push(optionSpec(help));
  return {
    name: cmd.name(),
    path,
    description: cmd.description(),
    usage: cmd.usage(),
    operands: cmd.registeredArguments.map((a) => operandSpec(a, group)),
    options,
    subcommands: cmd.commands.filter(visible).map((c) => commandSpec(c, [...path, c.name()])),
    helpAfter: helpAfterOf(cmd),
  };
}

/** Every command in the tree, depth first (the program first). */
export function allCommands(spec: CommandSpec): CommandSpec[] {
  return [spec, ...spec.subcommands.flatMap(allCommands)];
}

// zsh completion (_arguments per command), generated from the command table (model.ts);
// host names, @tags and secret names come from the repo in the current directory
// (`nixseal completion list …`).
import type { CommandSpec, OperandSpec, OptionSpec, ValueKind } from "./model.js";

/** A zsh single-quoted word. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Text inside an _arguments [description] or a _describe entry. */
function desc(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/([[\]:])/g, "\\$1");
}

function action(v: ValueKind): string {
  switch (v.kind) {
    case "host":
      return "_nixseal_list hosts";
    case "hosts":
      return "_nixseal_selection";
    case "secret":
      return "_nixseal_list secrets";
    case "file":
      return "_files";
    case "dir":
      return "_files -/";
    case "choice":
      return `(${v.values.join(" ")})`;
    default:
      return " ";
  }
}

function fnName(c: CommandSpec): string {
  return ["_nixseal", ...c.path].join("_").replace(/-/g, "_");
}

function optionSpec(o: OptionSpec): string {
  const names = [o.short, o.long].filter((x): x is string => Boolean(x));
  const value = o.value ? `:${desc(o.placeholder ?? "value")}:${action(o.value)}` : "";
  const repeatable = o.value && /repeatable/.test(o.description) ? "*" : "";
  if (names.length === 1) return q(`${repeatable}${names[0]}[${desc(o.description)}]${value}`);
  const excl = repeatable ? "" : `(${names.join(" ")})`;
  return `${q(excl)}${repeatable ? q("*") : ""}{${names.join(",")}}${q(`[${desc(o.description)}]${value}`)}`;
}

function operandSpec(a: OperandSpec, i: number): string {
  return q(`${a.variadic ? "*" : String(i + 1)}:${desc(a.name)}:${action(a.value)}`);
}

function commandFunction(c: CommandSpec): string {
  const opts = c.options.map(optionSpec);
  if (c.subcommands.length === 0) {
    return `${fnName(c)}() {
  _arguments -s ${[...opts, ...c.operands.map(operandSpec)].join(" \\\n    ")}
}`;
  }
  const entries = c.subcommands.map((s) => q(`${s.name}:${desc(s.description)}`));
  const cases = c.subcommands.map((s) => `      ${q(s.name)}) ${fnName(s)} ;;`);
  return `${fnName(c)}() {
  local curcontext="$curcontext" state line
  local -a commands
  commands=(${entries.join(" ")})
  _arguments -C ${[...opts, q("1: :->command"), q("*:: :->args")].join(" \\\n    ")}
  case $state in
    command) _describe -t commands 'nixseal command' commands ;;
    args)
      case $line[1] in
${cases.join("\n")}
      esac ;;
  esac
}`;
}

function all(c: CommandSpec): CommandSpec[] {
  return [c, ...c.subcommands.flatMap(all)];
}

/** The zsh completion script (a #compdef file). */
export function zshCompletion(program: CommandSpec): string {
  return `#compdef nixseal
# zsh completion for nixseal. Generated from nixseal's command table by
# "nixseal completion zsh"; install it as _nixseal in a directory of $fpath:
#   nixseal completion zsh > "\${fpath[1]}/_nixseal"

# names from the repo in the current directory: hosts, tags or secrets
_nixseal_list() {
  local -a names
  names=(\${(f)"$(command nixseal completion list "$@" 2>/dev/null)"})
  compadd -a names
}

# a comma-separated selection of hosts and @tags
_nixseal_selection() {
  local -a names
  names=(\${(f)"$(command nixseal completion list hosts tags 2>/dev/null)"})
  _values -s , 'hosts' $names
}

${all(program).map(commandFunction).join("\n\n")}

if [ "$funcstack[1]" = "_nixseal" ]; then
  _nixseal "$@"
else
  compdef _nixseal nixseal
fi
`;
}

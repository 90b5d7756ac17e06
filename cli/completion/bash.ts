// bash completion, generated from the command table (model.ts): subcommands, options,
// option values and operands; host names, @tags and secret names come from the repo in
// the current directory at the moment of completion (`nixseal completion list …`).
import { allCommands, type CommandSpec, type ValueKind } from "./model.js";

/** How a value kind is passed to _nixseal_values. */
function kindWord(v: ValueKind): string {
  return v.kind === "choice" ? `choice:${v.values.join(" ")}` : v.kind;
}

/** A bash single-quoted word. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function pathKey(c: CommandSpec): string {
  return c.path.join(" ");
}

function optionWords(c: CommandSpec): string[] {
  return c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x)));
}

/** The bash completion script. */
export function bashCompletion(program: CommandSpec): string {
  const cmds = allCommands(program);
  const subs = cmds.filter((c) => c.subcommands.length).map((c) => `    ${q(pathKey(c))}) echo ${q(c.subcommands.map((s) => s.name).join(" "))} ;;`);
  const opts = cmds.map((c) => `    ${q(pathKey(c))}) echo ${q(optionWords(c).join(" "))} ;;`);
  const optValues = cmds.flatMap((c) =>
    c.options.filter((o) => o.value).flatMap((o) => [o.long, o.short].filter(Boolean).map((f) => `    ${q(`${pathKey(c)}|${f}`)}) echo ${q(kindWord(o.value!))} ;;`)),
  );
  const operands = cmds
    .filter((c) => c.operands.length)
    .map((c) => {
      const cases = c.operands.map((a, i) => `${a.variadic ? "*" : i}) echo ${q(kindWord(a.value))} ;;`);
      // a variadic operand is last: every later index is it too
      return `    ${q(pathKey(c))}) case "$2" in ${cases.map((x) => x.replace(/^\*\)/, "*)")).join(" ")} esac ;;`;
    });
  return `# bash completion for nixseal. Generated from nixseal's command table by
# "nixseal completion bash"; load it with:  source <(nixseal completion bash)
# or install it:  nixseal completion bash > /usr/share/bash-completion/completions/nixseal

_nixseal_subcommands() {
  case "$1" in
${subs.join("\n")}
  esac
}

_nixseal_options() {
  case "$1" in
${opts.join("\n")}
  esac
}

# the kind of value an option takes (nothing for a switch)
_nixseal_option_value() {
  case "$1|$2" in
${optValues.join("\n")}
  esac
}

# the kind of the Nth operand of a command
_nixseal_operand() {
  case "$1" in
${operands.join("\n")}
  esac
}

# candidates for a kind of value, into COMPREPLY
_nixseal_values() {
  local kind="$1" cur="$2" prefix="" IFS=$'\\n'
  case "$kind" in
    host) COMPREPLY=($(compgen -W "$(command nixseal completion list hosts 2>/dev/null)" -- "$cur")) ;;
    hosts)
      # a comma-separated selection: complete its last item
      if [[ "$cur" == *,* ]]; then prefix="\${cur%,*},"; cur="\${cur##*,}"; fi
      COMPREPLY=($(compgen -P "$prefix" -W "$(command nixseal completion list hosts tags 2>/dev/null)" -- "$cur")) ;;
    secret) COMPREPLY=($(compgen -W "$(command nixseal completion list secrets 2>/dev/null)" -- "$cur")) ;;
    file) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
    dir) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null ;;
    choice:*) IFS=' ' COMPREPLY=($(compgen -W "\${kind#choice:}" -- "$cur")) ;;
    *) COMPREPLY=() ;;
  esac
}

_nixseal() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word kind i n=0 skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$word" in
      --*=*) continue ;;
      -*) [[ -n "$(_nixseal_option_value "$path" "$word")" ]] && skip=1; continue ;;
    esac
    if [[ " $(_nixseal_subcommands "$path") " == *" $word "* ]]; then
      path="\${path:+$path }$word"; n=0
    else
      n=$((n + 1))
    fi
  done
  COMPREPLY=()
  if ((skip)); then
    _nixseal_values "$(_nixseal_option_value "$path" "\${COMP_WORDS[COMP_CWORD - 1]}")" "$cur"
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_nixseal_options "$path")" -- "$cur"))
    return 0
  fi
  local subs
  subs="$(_nixseal_subcommands "$path")"
  if [[ -n "$subs" ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return 0
  fi
  kind="$(_nixseal_operand "$path" "$n")"
  [[ -n "$kind" ]] && _nixseal_values "$kind" "$cur"
  return 0
}

complete -F _nixseal nixseal
`;
}

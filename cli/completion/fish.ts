// fish completion, generated from the command table (model.ts); host names, @tags and
// secret names come from the repo in the current directory (`nixseal completion list …`).
import { allCommands, type CommandSpec, type ValueKind } from "./model.js";

/** A fish single-quoted word. */
function q(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function valueArgs(v: ValueKind): string {
  switch (v.kind) {
    case "host":
      return "-f -a '(command nixseal completion list hosts 2>/dev/null)'";
    case "hosts":
      return "-f -a '(__nixseal_selection)'";
    case "secret":
      return "-f -a '(command nixseal completion list secrets 2>/dev/null)'";
    case "file":
      return "-F";
    case "dir":
      return "-f -a '(__fish_complete_directories)'";
    case "choice":
      return `-f -a ${q(v.values.join(" "))}`;
    default:
      return "-f";
  }
}

/** The fish completion script. */
export function fishCompletion(program: CommandSpec): string {
  const cmds = allCommands(program);
  const lines: string[] = [];
  const valueOpts = cmds.flatMap((c) =>
    c.options.filter((o) => o.value).flatMap((o) => [o.long, o.short].filter(Boolean).map((f) => `    case ${q(`${c.path.join(" ")}|${f}`)}; return 0`)),
  );
  for (const c of cmds) {
    const cond = `-n ${q(`test "$(__nixseal_path)" = ${q(c.path.join(" "))}`)}`;
    for (const s of c.subcommands) lines.push(`complete -c nixseal ${cond} -f -a ${q(s.name)} -d ${q(s.description)}`);
    for (const o of c.options) {
      const flags = [o.long ? `-l ${o.long.replace(/^--/, "")}` : "", o.short ? `-s ${o.short.replace(/^-/, "")}` : ""].filter(Boolean).join(" ");
      lines.push(`complete -c nixseal ${cond} ${flags}${o.value ? ` -r ${valueArgs(o.value)}` : ""} -d ${q(o.description)}`);
    }
    const operand = c.operands.find((a) => a.value.kind !== "text");
    if (operand && c.subcommands.length === 0) lines.push(`complete -c nixseal ${cond} ${valueArgs(operand.value)}`);
  }
  return `# fish completion for nixseal. Generated from nixseal's command table by
# "nixseal completion fish"; install it:
#   nixseal completion fish > ~/.config/fish/completions/nixseal.fish

# whether an option of a command takes a value (the next word is not a command)
function __nixseal_takes_value
    switch "$argv[1]|$argv[2]"
${valueOpts.join("\n")}
    end
    return 1
end

# the command path of the line being completed: "", "secrets", "secrets add", …
function __nixseal_path
    set -l words (commandline -opc)
    set -l path
    set -l skip 0
    for w in $words[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--*=*'
                continue
            case '-*'
                if __nixseal_takes_value "$path" $w
                    set skip 1
                end
                continue
        end
        set -l candidate (string join ' ' $path $w)
        if contains -- $candidate $__nixseal_commands
            set path $path $w
        end
    end
    string join ' ' $path
end

# hosts and @tags, for a comma-separated selection
function __nixseal_selection
    set -l token (commandline -ct)
    set -l prefix ''
    if string match -q '*,*' -- $token
        set prefix (string replace -r ',[^,]*$' ',' -- $token)
    end
    for v in (command nixseal completion list hosts tags 2>/dev/null)
        echo $prefix$v
    end
end

set -g __nixseal_commands ${cmds.slice(1).map((c) => q(c.path.join(" "))).join(" ")}

complete -c nixseal -f
${lines.join("\n")}
`;
}

// The nixseal(1) man page, generated from the command table (model.ts) like the shell
// completions: every command with its synopsis, description, options and the details and
// examples its --help prints. Written into dist/man/nixseal.1 by the build
// (scripts/build-man.mjs); npm installs it with the package ("man" in package.json).
import { ENVIRONMENT } from "../environment.js";
import { allCommands, type CommandSpec } from "./model.js";

/** Escapes text for roff: backslashes, and a leading dot or quote that roff would take as a request. */
function roff(s: string): string {
  return s
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .split("\n")
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join("\n");
}

const EXIT_STATUS: [string, string][] = [
  ["0", "success (also: nothing to do)"],
  ["1", "an expected error (a NIXSEAL_ERR_* code, see docs/errors.md); for deploy, status and rollback: some host failed, drifts or would fail"],
  ["2", "usage: unknown option, missing argument, options that exclude each other"],
  ["70", "an internal error (a bug; please report it with the command)"],
  ["129, 130, 143", "ended by SIGHUP, SIGINT, SIGTERM"],
];

function synopsis(c: CommandSpec): string {
  return `.B nixseal ${roff(c.path.join(" "))}\n${roff(c.usage)}`;
}

function commandSection(c: CommandSpec): string {
  const out = [`.SS "${roff(["nixseal", ...c.path].join(" "))}"`, roff(c.description) + ".", ".PP", synopsis(c)];
  for (const a of c.operands) out.push(".TP", `.I ${roff(a.name)}${a.variadic ? " ..." : ""}`, roff(a.description || (a.required ? "required" : "optional")));
  for (const o of c.options) out.push(".TP", `.B ${roff(o.flags)}`, roff(o.description));
  if (c.helpAfter) out.push(".PP", ".nf", roff(c.helpAfter), ".fi");
  return out.join("\n");
}

/**
 * The man page in roff (man(7) macros).
 *
 * @param version - printed in the page's footer
 */
export function manPage(program: CommandSpec, version: string): string {
  const commands = allCommands(program).filter((c) => c.path.length > 0 && c.subcommands.length === 0);
  const groups = program.subcommands.map((g) => `.TP\n.B ${roff(g.name)}\n${roff(g.description)}`);
  return [
    `.TH NIXSEAL 1 "" "nixseal ${roff(version)}" "User Commands"`,
    ".SH NAME",
    `nixseal \\- ${roff(program.description)}`,
    ".SH SYNOPSIS",
    ".B nixseal",
    ".I command",
    "[\\fIoptions\\fR] [\\fIoperands\\fR]",
    ".SH DESCRIPTION",
    roff(
      "nixseal keeps secrets in a git repository (nixseal.json and secrets/NAME.age), each encrypted (age format) to the SSH host keys of the hosts that need it and to every admin. " +
        "On each host, nixseal-agent decrypts them at boot into a never-swapped tmpfs with their owner, group and mode; nixseal deploy ships a host's config and its secrets together and puts both back if anything fails.",
    ),
    ".PP",
    roff("Values come from stdin, --from-file or --generate, never from the command line. Data goes to stdout; messages, warnings, errors and hints to stderr."),
    ".SH COMMANDS",
    ...groups,
    ...commands.map(commandSection),
    ".SH ENVIRONMENT",
    ...ENVIRONMENT.flatMap(([k, v]) => [".TP", `.B ${roff(k)}`, roff(v)]),
    ".SH EXIT STATUS",
    ...EXIT_STATUS.flatMap(([k, v]) => [".TP", `.B ${roff(k)}`, roff(v)]),
    ".SH FILES",
    ".TP",
    ".B nixseal.json, secrets/NAME.age",
    roff("the repo: public keys and metadata; one age file per secret."),
    ".TP",
    ".B ~/.config/nixseal/identity.txt",
    roff("the admin identity when no OS keychain is reachable (mode 0600)."),
    ".SH SEE ALSO",
    ".BR nixseal\\-agent (1),",
    ".BR age (1),",
    ".BR ssh\\-keygen (1);",
    roff("docs/cli.md, docs/deploy.md and docs/errors.md in the nixseal source."),
    "",
  ].join("\n");
}

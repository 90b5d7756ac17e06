// nixseal-agent's command line. Hand-parsed on purpose: `restore` runs at every boot
// and loads only what it needs (core, the restore modules, imported statically so that
// the build's bundle holds the whole boot path in one file); every other command's
// module is imported when that command runs, Fastify only for `serve`.
import { NixsealError } from "../../core/errors.js";
import { COMMANDS, runCommand } from "./run-command.js";
import { errors } from "../errors.js";
import type { AgentIo } from "./io.js";

const USAGE = `usage: nixseal-agent COMMAND [--config FILE] [--state-dir DIR] [--run-dir DIR]
                     [--keys-dir DIR] [--identity KEYFILE]...

  restore              decrypt the current generation into /run/nixseal (boot oneshot)
  serve                run the API on the unix socket (root only)
  status [--json]      what this host runs, from disk (works without the API)
  import DIR           store a bundle dir as a new generation and activate it
  import DIR --root IMG  image baking: check DIR against the offline system at IMG
                       (its host key, users, groups) and store it there as current
  stage DIR            check a bundle dir and store it as a pending generation
  activate N           make generation N live
  rollback             make the previous generation live again
  install [--agent PATH] [--no-start]
                       write the systemd units, daemon-reload, enable and start them
  check MANIFEST|DIR   validate a manifest or a bundle dir (no decryption)
  pull --server URL    fetch this host's latest bundle from a nixseal server, import it

config: /etc/nixseal/agent.json (optional), see docs/agent.md; the --*-dir and
--identity options override it (tests, unusual layouts)
`;

interface Args {
  command: string | undefined;
  positional: string[];
  config?: string;
  overrides: { stateDir?: string; runDir?: string; keysDir?: string; identityPaths?: string[] };
  root?: string;
  json: boolean;
  agent?: string;
  noStart: boolean;
  help: boolean;
}

function usageError(message: string): NixsealError {
  return errors.usage([message]);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { command: undefined, positional: [], overrides: {}, json: false, noStart: false, help: false };
  const dir = (flag: string, v: string): string => {
    if (!v.startsWith("/") || v.split("/").includes("..")) throw usageError(`${flag} needs an absolute path without ".."`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw usageError(`${arg} needs a value`);
      return v;
    };
    if (arg === "--config") a.config = value();
    else if (arg.startsWith("--config=")) a.config = arg.slice(9);
    else if (arg === "--state-dir") a.overrides.stateDir = dir(arg, value());
    else if (arg === "--run-dir") a.overrides.runDir = dir(arg, value());
    else if (arg === "--keys-dir") a.overrides.keysDir = dir(arg, value());
    else if (arg === "--identity") a.overrides.identityPaths = [...(a.overrides.identityPaths ?? []), dir(arg, value())];
    else if (arg === "--root") a.root = dir(arg, value());
    else if (arg === "--json") a.json = true;
    else if (arg === "--agent") a.agent = value();
    else if (arg === "--no-start") a.noStart = true;
    else if (arg === "-h" || arg === "--help") a.help = true;
    else if (arg.startsWith("-")) throw usageError(`unknown option ${arg}`);
    else if (a.command === undefined) a.command = arg;
    else a.positional.push(arg);
  }
  return a;
}

function printError(io: AgentIo, err: unknown): number {
  if (err instanceof NixsealError) {
    io.stderr.write(`nixseal-agent: error: ${err.message}\n`);
    for (const h of err.hints) io.stderr.write(`nixseal-agent: hint: ${h}\n`);
    return err.exitCode;
  }
  // Unexpected: the message only (an object dump could hold key material).
  io.stderr.write(`nixseal-agent: error: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  return 70;
}

function one(a: Args, what: string): string {
  if (a.positional.length !== 1) throw usageError(`${a.command} needs exactly one argument: ${what}`);
  return a.positional[0]!;
}

/**
 * Runs one agent command.
 *
 * @returns the exit code (1 when any secret failed, so a oneshot unit shows it)
 */
export async function main(argv: string[], io: AgentIo): Promise<number> {
  try {
    if (argv[0] === "pull") return await (await import("../pull/pull.js")).runPull(argv.slice(1), io);
    const a = parseArgs(argv);
    if (a.help || a.command === undefined || a.command === "help") {
      (a.command === undefined && !a.help ? io.stderr : io.stdout).write(USAGE);
      return a.command === undefined && !a.help ? 2 : 0;
    }
    if (a.command === "--version" || a.command === "version") {
      io.stdout.write("nixseal-agent 0.1.0\n");
      return 0;
    }
    if (!COMMANDS.includes(a.command)) throw usageError(`unknown command ${a.command}`);
    return await runCommand(a.command, { positional: a.positional, config: a.config, overrides: a.overrides, root: a.root, json: a.json, agent: a.agent, noStart: a.noStart, one: (what) => one(a, what) }, io);
  } catch (err) {
    return printError(io, err);
  }
}

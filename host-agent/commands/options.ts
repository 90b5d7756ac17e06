// The agent's options, and the one parser the command table uses: `--flag VALUE` or
// `--flag=VALUE`, flags anywhere among the operands. Which command takes which option is
// said in table.ts; a path option must be absolute without "..", checked here once.
import { errors } from "../errors.js";

interface OptionSpec {
  readonly flag: `--${string}`;
  /** The value's name in usage text; a flag without one is a boolean. */
  readonly value?: string;
  /** May be given more than once (the values are collected in order). */
  readonly repeat?: boolean;
  /** The value is a path on this host: absolute, without "..". */
  readonly path?: boolean;
}

export const OPTIONS = {
  config: { flag: "--config", value: "FILE" },
  stateDir: { flag: "--state-dir", value: "DIR", path: true },
  runDir: { flag: "--run-dir", value: "DIR", path: true },
  keysDir: { flag: "--keys-dir", value: "DIR", path: true },
  identity: { flag: "--identity", value: "KEYFILE", repeat: true, path: true },
  root: { flag: "--root", value: "IMG", path: true },
  json: { flag: "--json" },
  agent: { flag: "--agent", value: "PATH" },
  noStart: { flag: "--no-start" },
  forUsers: { flag: "--for-users" },
  server: { flag: "--server", value: "URL" },
  host: { flag: "--host", value: "NAME" },
  trustKey: { flag: "--trust-key", value: "FILE", repeat: true },
  trustServer: { flag: "--trust-server" },
  follow: { flag: "--follow" },
  wait: { flag: "--wait", value: "SECONDS" },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** The parsed options: a boolean for a flag, a string for a value, a list for a repeatable one. */
export type OptionValues = {
  -readonly [K in OptionName]?: (typeof OPTIONS)[K] extends { repeat: true } ? string[] : (typeof OPTIONS)[K] extends { value: string } ? string : boolean;
};

/** What every command takes: where the config is, and the overrides of its paths (tests, unusual layouts). */
export const COMMON_OPTIONS: readonly OptionName[] = ["config", "stateDir", "runDir", "keysDir", "identity"];

/** A usage error (exit 2) with the agent's help hint, or the hint given. */
export function usageError(message: string, hints?: string[]): ReturnType<typeof errors.usage> {
  return errors.usage([message], hints ? { hints } : {});
}

/** Splits argv into operands and option values; `allowed` names the options the command takes. */
export function parseOptions(argv: readonly string[], allowed: readonly OptionName[], hint?: string[]): { operands: string[]; values: OptionValues } {
  const byFlag = new Map(allowed.map((name) => [OPTIONS[name].flag as string, name]));
  const values: Record<string, string | string[] | boolean> = {};
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-")) {
      operands.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const name = byFlag.get(flag);
    if (name === undefined) throw usageError(`unknown option ${flag}`, hint);
    const spec: OptionSpec = OPTIONS[name];
    if (spec.value === undefined) {
      if (eq > 0) throw usageError(`${flag} takes no value`, hint);
      values[name] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw usageError(`${flag} needs a value`, hint);
    if (spec.path && (!value.startsWith("/") || value.split("/").includes(".."))) throw usageError(`${flag} needs an absolute path without ".."`, hint);
    if (spec.repeat) values[name] = [...((values[name] as string[] | undefined) ?? []), value];
    else values[name] = value;
  }
  return { operands, values: values as OptionValues };
}

/** The usage text of options: `[--flag VALUE]...`. */
export function optionsUsage(names: readonly OptionName[]): string {
  return names
    .map((n) => {
      const o: OptionSpec = OPTIONS[n];
      return `[${o.flag}${o.value ? ` ${o.value}` : ""}]${o.repeat ? "..." : ""}`;
    })
    .join(" ");
}

/**
 * The command word: the first argument that is neither an option nor an option's value.
 *
 * @returns the command (undefined when there is none) and every other argument, in order
 */
export function commandName(argv: readonly string[]): { name: string | undefined; rest: string[] } {
  const valued = new Set<string>(Object.values(OPTIONS).flatMap((o: OptionSpec) => (o.value ? [o.flag] : [])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-")) return { name: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    if (valued.has(arg)) i++;
  }
  return { name: undefined, rest: [...argv] };
}

// The agent's commands (main.ts parses, this runs). Progress and results go to
// stderr (the journal for units); `status --json` and `check` data go to stdout.
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { NixsealError } from "../../core/errors.js";
import { errors } from "../errors.js";
import { DEFAULT_CONFIG_PATH, defaultConfig, type AgentConfig } from "../config/defaults.js";
import { loadConfig } from "../config/load.js";
import type { InstallOutcome } from "../generations/install-generation.js";
import type { AgentIo } from "./io.js";
import type { SecretResult } from "../plaintext/materialize.js";
import { readBundleDir, requireWhole } from "../generations/bundle-dir.js";
import { restore } from "../boot/restore.js";

export const COMMANDS = ["restore", "serve", "status", "import", "stage", "activate", "rollback", "install", "check"];

export interface CommandArgs {
  positional: string[];
  config?: string;
  /** --state-dir, --run-dir, --keys-dir, --identity: override the config file. */
  overrides: Partial<AgentConfig>;
  /** --root: an offline system tree (image baking): its config, keys, users and state. */
  root?: string;
  json: boolean;
  agent?: string;
  noStart: boolean;
  one: (what: string) => string;
}

function say(io: AgentIo, line: string): void {
  io.stderr.write(`nixseal-agent: ${line}\n`);
}

function reportFailures(io: AgentIo, results: SecretResult[]): number {
  const failed = results.filter((r) => !r.ok);
  for (const r of failed) {
    say(io, `error: ${r.error ?? r.name}`);
    for (const h of r.hints ?? []) say(io, `hint: ${h}`);
  }
  return failed.length;
}

function summarize(io: AgentIo, verb: string, out: InstallOutcome, config: AgentConfig): number {
  const ok = out.results.filter((r) => r.ok).length;
  say(io, `${verb} generation ${out.generation}: ${ok} of ${out.results.length} secrets in ${join(config.runDir, out.runGeneration)}`);
  if (out.changed.length && verb !== "restored") say(io, `changed: ${listed(out.changed)}`);
  if (out.units.restarted.length) say(io, `restarted: ${out.units.restarted.join(", ")}`);
  if (out.units.reloaded.length) say(io, `reloaded: ${out.units.reloaded.join(", ")}`);
  if (out.units.error) say(io, `warning: ${out.units.error}`);
  for (const w of out.warnings) say(io, `warning: ${w}`);
  return reportFailures(io, out.results) ? 1 : 0;
}

/** Names for a log line: the first ten, then a count. */
function listed(names: string[]): string {
  return names.length <= 10 ? names.join(", ") : `${names.slice(0, 10).join(", ")} and ${names.length - 10} more`;
}

function generationArg(s: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(s)) {
    throw errors.usage([`"${s}" is not a generation number`], { hints: ["list them with nixseal-agent status"] });
  }
  return Number(s);
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}

/** The config of an offline image at args.root: its agent.json, every path inside it. */
async function imageConfig(args: CommandArgs): Promise<AgentConfig> {
  const root = args.root!;
  const inside = join(root, args.config ?? DEFAULT_CONFIG_PATH);
  const base = existsSync(inside) ? await loadConfig(inside) : defaultConfig();
  return {
    ...base,
    identityPaths: base.identityPaths.map((p) => join(root, p)),
    stateDir: join(root, base.stateDir),
    ...args.overrides,
  };
}

/** Runs one command; returns its exit code. */
export async function runCommand(name: string, args: CommandArgs, io: AgentIo): Promise<number> {
  if (name === "check") return check(args.one("MANIFEST or DIR"), io);
  const config = args.root ? await imageConfig(args) : await loadConfig(args.config, args.overrides);
  switch (name) {
    case "restore": {
      const r = await restore(config);
      if (r.generation === null || !r.outcome) {
        say(io, `no generation installed in ${config.stateDir}: nothing to restore`);
        return 0;
      }
      if (r.fellBackFrom) say(io, `error: current generation ${r.fellBackFrom.generation} is unusable (${r.fellBackFrom.reason}); restored previous generation ${r.generation}`);
      return summarize(io, "restored", r.outcome, config) || (r.fellBackFrom ? 1 : 0);
    }
    case "serve": {
      const { serve } = await import("../api/serve.js");
      await serve(config, (l) => say(io, l));
      return 0;
    }
    case "status": {
      const { collectStatus, formatStatus } = await import("../status/host-status.js");
      const s = await collectStatus(config);
      io.stdout.write(args.json ? JSON.stringify(s, null, 2) + "\n" : formatStatus(s));
      return s.secrets.some((x) => x.ok === false) ? 1 : 0;
    }
    case "stage": {
      const { stage } = await import("../generations/operations.js");
      const s = await stage(config, args.one("DIR"));
      say(io, s.existing ? `bundle already stored as generation ${s.generation}` : `staged generation ${s.generation} (${s.secrets.length} secrets)`);
      io.stdout.write(`${s.generation}\n`);
      return 0;
    }
    case "import": {
      if (args.root) {
        const { bakeBundle } = await import("../generations/operations.js");
        const s = await bakeBundle(config, args.one("DIR"), args.root);
        say(io, `stored generation ${s.generation} (${s.secrets.length} secrets) as current in ${config.stateDir}; the first boot restores it`);
        return 0;
      }
      const { importBundle } = await import("../generations/operations.js");
      const r = await importBundle(config, args.one("DIR"));
      return summarize(io, "imported", r.activation, config);
    }
    case "activate": {
      const { activate } = await import("../generations/operations.js");
      return summarize(io, "activated", await activate(config, generationArg(args.one("N"))), config);
    }
    case "rollback": {
      const { rollback } = await import("../generations/operations.js");
      return summarize(io, "rolled back to", await rollback(config), config);
    }
    case "install": {
      const { installUnits } = await import("../systemd/install-units.js");
      const agent = args.agent ?? findOnPath("nixseal-agent") ?? process.argv[1];
      if (!agent || !agent.startsWith("/")) throw errors.usage(["cannot tell where nixseal-agent is"], { hints: ["pass --agent /absolute/path/to/nixseal-agent"] });
      const files = await installUnits({ agent, config: args.config ?? DEFAULT_CONFIG_PATH, readWritePaths: config.readWritePaths, systemctl: !args.noStart });
      for (const f of files) say(io, `wrote ${f}`);
      if (!args.noStart) say(io, "enabled and started run-nixseal.mount, nixseal-secrets.target and nixseal-agent.service");
      return 0;
    }
  }
  return 2;
}

/** `check MANIFEST|DIR`: schema (and, for a dir, every file's sha256); no keys needed. */
async function check(path: string, io: AgentIo): Promise<number> {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `${path}: no such file or directory`, { cause: err });
  }
  if (isDir) {
    const b = await readBundleDir(path);
    requireWhole(b);
    io.stdout.write(`ok: bundle for host ${b.manifest.host}, ${b.manifest.secrets.length} secrets, every file matches its sha256\n`);
  } else {
    const { BUNDLE_MANIFEST, bundleManifestSchema, readJsonFile } = await import("../../core/index.js");
    const m = await readJsonFile(bundleManifestSchema, path);
    io.stdout.write(`ok: ${BUNDLE_MANIFEST} for host ${m.host}, ${m.secrets.length} secrets\n`);
  }
  return 0;
}

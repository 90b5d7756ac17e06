// `nixseal-agent install`: renders host-agent/systemd/units.json (the one source of the agent's units, also
// read by nix/module.nix) into unit files, and installs them on a plain systemd host.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { HOST_PATHS, writeFileAtomic } from "../../core/index.js";
import { errors } from "../errors.js";
import { unitsJsonCandidates } from "../own-files.js";

type Value = string | string[];
type Section = Record<string, Value>;
type Unit = Record<string, Section>;

export interface UnitsSpec {
  format: string;
  paths: Record<string, string>;
  mount: { noswapMinKernel: string; tmpfs: { fsType: string; fsOptions: string }; ramfs: { fsType: string; fsOptions: string } };
  tmpfiles: string[];
  hardenedUnits: string[];
  hardening: Section;
  units: Record<string, Unit>;
  /** Units that pull from a nixseal server, installed only when asked for (see units.json's pull.comment). */
  pull: { hardening: Section; timer: string[]; follow: string[]; units: Record<string, Unit> };
}

/** How a host gets its bundles from a nixseal server: a pull every few minutes, or a long-poll that follows. */
export interface PullUnitsOptions {
  follow: boolean;
  /** The pull options: --server URL, --trust-key FILE... or --trust-server. */
  args: string[];
}

interface RenderOptions {
  /** Absolute path of the nixseal-agent executable. */
  agent: string;
  /** The agent config file. */
  config: string;
  /** Kernel release (default: this host's); picks tmpfs+noswap or ramfs. */
  kernel?: string;
  /** Extra ReadWritePaths= for Secret.path links. */
  readWritePaths?: string[];
  /** The SSH host keys the agent reads (RequiresMountsFor= of the boot restore). */
  identityPaths?: string[];
  /** Also the units that pull from a nixseal server. */
  pull?: PullUnitsOptions;
}

/** Loads units.json from the source tree (works from host-agent/ and from dist/host-agent/). */
export function loadUnitsSpec(): UnitsSpec {
  for (const candidate of unitsJsonCandidates()) {
    if (existsSync(candidate)) return JSON.parse(readFileSync(candidate, "utf8")) as UnitsSpec;
  }
  throw errors.install(["host-agent/systemd/units.json is missing from the package"]);
}

/** True when the kernel release is at least `min` ("6.4"). */
export function kernelAtLeast(kernel: string, min: string): boolean {
  const [a = 0, b = 0] = kernel.split(/[.-]/).map(Number);
  const [c = 0, d = 0] = min.split(".").map(Number);
  return a > c || (a === c && b >= d);
}

/** The filesystem for runDir: tmpfs with noswap when the kernel has it, else ramfs. */
export function memoryFsFor(spec: UnitsSpec, kernel: string): { fsType: string; fsOptions: string } {
  return kernelAtLeast(kernel, spec.mount.noswapMinKernel) ? spec.mount.tmpfs : spec.mount.ramfs;
}

function substitute(v: string, vars: Record<string, string>): string {
  return v.replace(/@[A-Za-z]+@/g, (m) => vars[m] ?? m);
}

/**
 * One word of a command line for systemd: double-quoted, with \\ and \" escaped, and
 * % and $ doubled (systemd expands specifiers and variables inside quotes too).
 * nix/module.nix quotes the same way.
 */
export function systemdWord(word: string): string {
  return `"${word.replace(/[\\"]/g, (c) => `\\${c}`).replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

/**
 * The pull units for a mode, as a spec of their own (same shape as the agent's): the
 * services hardened like the agent's, with the pull's network allowances over it.
 */
function pullSpec(spec: UnitsSpec, follow: boolean): UnitsSpec {
  const names = follow ? spec.pull.follow : spec.pull.timer;
  return {
    ...spec,
    hardening: { ...spec.hardening, ...spec.pull.hardening },
    hardenedUnits: names.filter((n) => n.endsWith(".service")),
    units: Object.fromEntries(names.map((n) => [n, spec.pull.units[n]!])),
  };
}

/**
 * Renders every unit to its file text.
 *
 * @returns unit file name -> contents
 */
export function renderUnits(spec: UnitsSpec, opts: RenderOptions): Record<string, string> {
  const out = renderSpec(spec, opts, {});
  if (opts.pull) Object.assign(out, renderSpec(pullSpec(spec, opts.pull.follow), opts, { "@pullArgs@": opts.pull.args.map(systemdWord).join(" ") }));
  return out;
}

function renderSpec(spec: UnitsSpec, opts: RenderOptions, more: Record<string, string>): Record<string, string> {
  const fs = memoryFsFor(spec, opts.kernel ?? release());
  const vars: Record<string, string> = { "@agent@": opts.agent, "@config@": opts.config, "@fsType@": fs.fsType, "@fsOptions@": fs.fsOptions, ...more };
  // A list placeholder stands alone as a list item and becomes zero or more items.
  const lists: Record<string, string[]> = { "@readWritePaths@": opts.readWritePaths ?? [], "@identityPaths@": opts.identityPaths ?? [] };
  const out: Record<string, string> = {};
  for (const [name, unit] of Object.entries(spec.units)) {
    const sections: Unit = { ...unit };
    if (spec.hardenedUnits.includes(name)) sections.Service = { ...sections.Service, ...spec.hardening };
    const text: string[] = [`# Generated by nixseal-agent install from host-agent/systemd/units.json; do not edit.`];
    for (const [section, keys] of Object.entries(sections)) {
      text.push("", `[${section}]`);
      for (const [key, value] of Object.entries(keys)) {
        const items = (Array.isArray(value) ? value : [value]).flatMap((v) => lists[v] ?? [v]);
        if (Array.isArray(value) && items.length === 0) continue;
        for (const item of items) text.push(`${key}=${substitute(item, vars)}`);
      }
    }
    out[name] = text.join("\n") + "\n";
  }
  return out;
}

/** The tmpfiles.d rules (the /run/keys link the sandboxed units cannot make in /run). */
function renderTmpfiles(spec: UnitsSpec): string {
  return `# Generated by nixseal-agent install; do not edit.\n${spec.tmpfiles.join("\n")}\n`;
}

interface InstallUnitsOptions extends RenderOptions {
  /** Where unit files go (default /etc/systemd/system). */
  unitDir?: string;
  tmpfilesDir?: string;
  /** Run systemctl daemon-reload, enable and start (false: only write files). */
  systemctl?: boolean;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) throw errors.install([`${cmd}: ${r.error.message}`], { cause: r.error });
  if (r.status !== 0) throw errors.install([`${cmd} ${args.join(" ")}: ${(r.stderr || r.stdout).trim()}`]);
}

/**
 * Writes the rendered units and the tmpfiles rule, then daemon-reload, enable and
 * start them (the target pulls in the restore service; the API socket is started and
 * a running agent stopped, so running install again after an upgrade serves the new
 * code on the next connection).
 *
 * @returns the files written
 */
export async function installUnits(opts: InstallUnitsOptions): Promise<string[]> {
  const spec = loadUnitsSpec();
  // systemd refuses to start a unit whose ReadWritePaths= names a missing directory
  const missing = (opts.readWritePaths ?? []).filter((p) => !existsSync(p));
  if (missing.length) {
    throw errors.install([`readWritePaths names ${missing.join(", ")}, which does not exist`], {
      hints: [`create it first (mkdir -p ${missing.join(" ")}) or remove it from ${HOST_PATHS.config}`],
    });
  }
  const unitDir = opts.unitDir ?? "/etc/systemd/system";
  const tmpfilesDir = opts.tmpfilesDir ?? "/etc/tmpfiles.d";
  const written: string[] = [];
  mkdirSync(unitDir, { recursive: true });
  mkdirSync(tmpfilesDir, { recursive: true });
  const rendered = renderUnits(spec, opts);
  // Pull units of another mode (or of an install with a server, run again without one) go.
  const stale = Object.keys(spec.pull.units).filter((n) => !rendered[n] && existsSync(join(unitDir, n)));
  if (stale.length && opts.systemctl !== false) run("systemctl", ["disable", "--now", ...stale]);
  for (const n of stale) rmSync(join(unitDir, n), { force: true });
  for (const [name, text] of Object.entries(rendered)) {
    await writeFileAtomic(join(unitDir, name), text, 0o644);
    written.push(join(unitDir, name));
  }
  await writeFileAtomic(join(tmpfilesDir, "nixseal.conf"), renderTmpfiles(spec), 0o644);
  written.push(join(tmpfilesDir, "nixseal.conf"));
  if (opts.systemctl !== false) {
    run("systemctl", ["daemon-reload"]);
    run("systemd-tmpfiles", ["--create", join(tmpfilesDir, "nixseal.conf")]);
    // the API service has no [Install]: its socket starts it
    const installable = Object.entries(spec.units).filter(([, u]) => u.Install).map(([n]) => n);
    run("systemctl", ["enable", ...installable]);
    // Socket and service stopped together (an upgrade: the next connection runs the new
    // code, and a changed socket unit is bound again), then the socket alone started.
    run("systemctl", ["stop", "nixseal-agent.socket", "nixseal-agent.service"]);
    run("systemctl", ["start", "run-nixseal.mount", "nixseal-secrets.target", "nixseal-agent.socket"]);
    if (opts.pull) {
      const pull = pullSpec(spec, opts.pull.follow);
      const units = Object.entries(pull.units).filter(([, u]) => u.Install).map(([n]) => n);
      run("systemctl", ["enable", ...units]);
      // restart: a new server or key reaches a follower that runs already
      run("systemctl", ["restart", ...units]);
    }
  }
  return written;
}

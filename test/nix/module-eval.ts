// Helpers for the NixOS module tests: write a host's generated file, evaluate
// nix/module.nix in a configuration (test/nix/eval-config.nix over the vendored
// nixos-eval, or real NixOS with NIXPKGS), and write the unit texts into a unit
// directory that real systemd reads (systemd-analyze verify, a test host).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatHostSecrets, makeHostSecrets, type HostSecret, type HostTemplate } from "../../core/index.js";
import { ROOT } from "./nix.js";

/**
 * The evaluation harness: NIXOS_EVAL points at another copy of nixos-eval;
 * NIXPKGS at a nixpkgs checkout (real NixOS when it has nixos/).
 */
export const NIXOS_EVAL = process.env.NIXOS_EVAL ?? join(ROOT, "test/nix/nixos-eval");
export const NIXPKGS = process.env.NIXPKGS ?? "";

export interface Evaluated {
  nixos: "stub" | "full";
  failedAssertions: string[];
  warnings: string[];
  units: Record<string, { text: string; wantedBy: string[]; requiredBy: string[] }>;
  etc: Record<string, { source: string; text: string | null }>;
  tmpfiles: string[];
  activation: string;
  agentPath: string;
  packagePath: string;
  secretPaths: Record<string, string>;
  identityPaths: string[];
  users: Record<string, { hashedPasswordFile: string | null }>;
}

let store: string | undefined;
/** The read-only store nix-instantiate evaluates with (made on first use; removeEvalStore() takes it away). */
function evalStore(): string {
  store ??= mkdtempSync(join(tmpdir(), "nixseal-eval-store-"));
  return store;
}
/** Removes the evaluation store: every test file that evaluates calls it in afterAll. */
export function removeEvalStore(): void {
  if (store) rmSync(store, { recursive: true, force: true });
  store = undefined;
}

/** A secret's metadata as the generated file holds it, with the defaults the CLI uses. */
export function secret(s: Partial<HostSecret> = {}): HostSecret {
  return { owner: "root", group: "root", mode: "0400", path: null, restartUnits: [], reloadUnits: [], neededBy: [], neededForUsers: false, ...s };
}

/** A rendered template's entry as the generated file holds it (never neededForUsers). */
export function template(s: Partial<Omit<HostTemplate, "neededForUsers">> = {}): HostTemplate {
  return { ...secret(s), neededForUsers: false };
}

/** A temp dir for one test's files; remove() takes it away. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `nixseal-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a generated file for `host` (exactly as the CLI does) and returns its path. */
export function writeSecretsFile(dir: string, host: string, secrets: Record<string, HostSecret>, templates: Record<string, HostTemplate> = {}): string {
  const file = join(dir, `${host}-nixseal-secrets.json`);
  writeFileSync(file, formatHostSecrets(makeHostSecrets(host, secrets, templates)));
  return file;
}

/**
 * Evaluates nix/module.nix with test/nix/configs/<config>.nix (or an absolute
 * path) and, when given, the generated file.
 *
 * @throws Error with Nix's message when evaluation itself fails (not for failed assertions)
 */
export function evaluate(config: string, secretsFile?: string): Evaluated {
  const configPath = config.startsWith("/") ? config : join(ROOT, "test/nix/configs", `${config}.nix`);
  const argv = ["--eval", "--strict", "--json", "--readonly-mode", "--store", evalStore(), "test/nix/eval-config.nix"];
  argv.push("--argstr", "nixosEval", NIXOS_EVAL, "--argstr", "config", configPath);
  if (NIXPKGS) argv.push("--argstr", "nixpkgs", NIXPKGS);
  if (secretsFile) argv.push("--argstr", "secretsFile", secretsFile);
  const r = spawnSync("nix-instantiate", argv, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`evaluation of ${config} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Evaluated;
}

/** Units systemd itself ships on this machine: NixOS' definitions of them become drop-ins. */
const upstream = new Set(readdirSync("/lib/systemd/system"));

/**
 * Writes unit texts into `dir` as NixOS' /etc/systemd/system would hold them:
 * a unit systemd ships becomes a drop-in, wantedBy/requiredBy become .wants/
 * and .requires/ links. `mapText` rewrites each text (store paths, NixOS-only
 * lines) for the systemd that reads the dir.
 */
export function writeUnitDir(dir: string, units: Evaluated["units"], mapText: (text: string, name: string) => string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, u] of Object.entries(units)) {
    const text = mapText(u.text, name);
    if (upstream.has(name)) {
      mkdirSync(join(dir, `${name}.d`), { recursive: true });
      writeFileSync(join(dir, `${name}.d`, "nixos.conf"), text);
    } else {
      writeFileSync(join(dir, name), text);
    }
    for (const [rel, suffix] of [["wantedBy", ".wants"], ["requiredBy", ".requires"]] as const) {
      for (const t of u[rel]) {
        mkdirSync(join(dir, t + suffix), { recursive: true });
        symlinkSync(upstream.has(name) ? `/lib/systemd/system/${name}` : `../${name}`, join(dir, t + suffix, name));
      }
    }
  }
}

/** For systemd-analyze verify: store programs become /bin/true; NixOS' Environment= and X- lines go. */
export function forVerify(text: string): string {
  return text
    .replace(/\/nix\/store\/[^ \n'"]*?\/(bin|libexec)\/[^ \n'"]+/g, "/bin/true")
    .replace(/^Environment=.*\n/gm, "")
    .replace(/^X-[A-Za-z-]+=.*\n/gm, "");
}

/**
 * `systemd-analyze verify` of every unit in `dir` plus multi-user.target, with
 * `dir` first on the unit path (the real systemd 252 of this machine).
 *
 * @returns its exit code and what it printed
 */
export function verifyUnitDir(dir: string): { code: number | null; output: string } {
  const files = readdirSync(dir).filter((f) => /\.(service|socket|target|timer|path|mount)$/.test(f)).map((f) => join(dir, f));
  const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...files, "multi-user.target"], {
    encoding: "utf8",
    env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:`, SYSTEMD_LOG_LEVEL: "notice" },
  });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** One unit's text as sections of key -> values (repeated keys kept in order). */
export function sections(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const h = /^\[(.+)\]$/.exec(line);
    if (h) {
      section = h[1]!;
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    if (eq > 0 && section) (out[section]![line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

/** The values of [Section] Key, each blank-separated list split into words. */
export function words(text: string, section: string, key: string): string[] {
  return (sections(text)[section]?.[key] ?? []).flatMap((v) => v.split(/\s+/)).filter((w) => w !== "");
}

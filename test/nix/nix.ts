// Helpers for test/nix: run nix-instantiate without a daemon and compare
// unit sections written in different but equivalent ways.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** True when the nix-instantiate binary (Debian package nix-bin) is on PATH. */
export function haveNix(): boolean {
  return spawnSync("nix-instantiate", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * Evaluates a Nix expression strictly and returns its JSON value.
 * --readonly-mode: no daemon, no store writes; works for builtins-only code.
 */
export function nixEval(expr: string, opts: { args?: Record<string, string> } = {}): unknown {
  const argv = ["--eval", "--strict", "--json", "--readonly-mode"];
  for (const [k, v] of Object.entries(opts.args ?? {})) argv.push("--argstr", k, v);
  argv.push("-E", expr);
  const out = execFileSync("nix-instantiate", argv, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return JSON.parse(out);
}

/** Like nixEval, but returns the error text of a failing evaluation (or throws if it succeeds). */
export function nixEvalError(expr: string): string {
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "--readonly-mode", "-E", expr], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (r.status === 0) throw new Error(`expected evaluation to fail, got ${r.stdout}`);
  return r.stderr;
}

/**
 * Every .nix file of the repository, relative to ROOT: tracked or new, as git
 * sees them (so ignored dirs and test machines' disks are never walked).
 * Outside a git checkout, a walk that skips node_modules, dist and symlinks.
 */
export function nixFiles(): string[] {
  const git = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.nix"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (git.status === 0) return [...new Set(git.stdout.split("\0").filter((f) => f !== ""))].filter((f) => existsSync(join(ROOT, f))).sort();
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      if (["node_modules", "dist", ".git"].includes(e.name)) return [];
      const path = join(dir, e.name);
      if (e.isDirectory()) return walk(path);
      return e.isFile() && e.name.endsWith(".nix") ? [relative(ROOT, path)] : [];
    });
  return walk(ROOT).sort();
}

export type Sections = Record<string, Record<string, Record<string, unknown>>>;
type Normal = Record<string, Record<string, Record<string, string[]>>>;

const TRUE = new Set(["true", "yes", "on", "1"]);
const FALSE = new Set(["false", "no", "off", "0"]);
/** Keys whose value is one list separated by commas rather than blanks. */
const COMMA_KEYS = new Set(["Options"]);

function tokens(key: string, v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap((x) => tokens(key, x));
  if (typeof v === "boolean") return [String(v)];
  const s = String(v).trim();
  if (TRUE.has(s)) return ["true"];
  if (FALSE.has(s)) return ["false"];
  return s.split(COMMA_KEYS.has(key) ? /\s*,\s*/ : /\s+/).filter((t) => t !== "");
}

/**
 * Normalizes unit sections so equivalent spellings compare equal: a list and
 * a blank-separated string, `yes` and `true`, repeated keys and one key.
 */
export function normalize(units: Sections): Normal {
  const out: Normal = {};
  for (const [unit, sections] of Object.entries(units)) {
    out[unit] = {};
    for (const [section, keys] of Object.entries(sections)) {
      const n: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(keys)) n[k] = tokens(k, v);
      if (Object.keys(n).length > 0) out[unit][section] = n;
    }
  }
  return out;
}

/** Parses unit-file text into sections of key -> all its values, in order. */
export function parseUnitText(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0 || section === "") continue;
    const key = line.slice(0, eq);
    (out[section][key] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

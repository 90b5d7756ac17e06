// Runs the nixseal CLI in-process (main(argv, io)) with injected stdin, env and
// cwd, and a small transcript runner in the style of age's cmd/age/testdata.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { main } from "../../cli/main.js";
import type { CliIo } from "../../cli/io.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One in-process nixseal run. */
export async function runNixseal(argv: string[], opts: { cwd: string; env: Record<string, string | undefined>; stdin?: Buffer | string }): Promise<RunResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const stdin = Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]);
  const io: CliIo = { stdin, stdout, stderr, env: opts.env, cwd: opts.cwd };
  const code = await main(argv, io);
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

/** The env a test gives nixseal: its own HOME, no keychain unless asked, the real PATH. */
export function testEnv(work: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { HOME: join(work, "home"), PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, NIXSEAL_NO_KEYCHAIN: "1", ...extra };
}

/** Every file under dir (relative path -> bytes), for "nothing changed" checks. */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p.slice(dir.length + 1), readFileSync(p).toString("base64"));
    }
  };
  walk(dir);
  return out;
}

/**
 * Parses and runs a transcript. Lines:
 *   [!] nixseal ARGS        in-process run; "!" expects a non-zero exit
 *   [!] exec PROG ARGS      a real program (no shell); its output is checked like nixseal's
 *   stdin FILE              the next command's stdin
 *   env K=V                 set for later nixseal runs and execs
 *   [!] stdout RE / stderr RE   the last command's output matches (or not)
 *   code N                  the last command's exit code
 *   [!] exists PATH
 *   cmp A B                 two files are identical
 *   snapshot / unchanged    record the repo (nixseal.json, secrets/) / check it is byte-identical
 * Words split on spaces; '…' quotes; $WORK is the work dir; ${file:F} is F's trimmed content;
 * ${nul} and ${nl} are a NUL and a newline.
 * After the script, "-- NAME --" sections are files written into $WORK first.
 */
export async function runTranscript(text: string, work: string): Promise<void> {
  const [script, files] = splitTxtar(text);
  for (const [name, content] of files) {
    const p = join(work, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content, { mode: name.endsWith(".sh") ? 0o755 : 0o644 });
  }
  const env = testEnv(work, { EDITOR: "false" });
  let last: RunResult = { code: 0, stdout: "", stderr: "" };
  let stdin: Buffer | undefined;
  let snapshot: Map<string, string> | undefined;
  const repoSnapshot = (): Map<string, string> => {
    const m = snapshotTree(join(work, "secrets"));
    const f = join(work, "nixseal.json");
    if (existsSync(f)) m.set("nixseal.json", readFileSync(f).toString("base64"));
    return m;
  };
  const lines = script.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const where = `line ${i + 1}: ${raw}`;
    let words = splitWords(raw).map((w) => expand(w, work));
    const negate = words[0] === "!";
    if (negate) words = words.slice(1);
    const [cmd, ...args] = words;
    const fail = (msg: string): never => {
      throw new Error(`${where}\n${msg}\n--- stdout ---\n${last.stdout}\n--- stderr ---\n${last.stderr}`);
    };
    switch (cmd) {
      case "nixseal":
        last = await runNixseal(args, { cwd: work, env, stdin });
        stdin = undefined;
        if (negate ? last.code === 0 : last.code !== 0) fail(`exit code ${last.code}`);
        break;
      case "exec": {
        const r = spawnSync(args[0]!, args.slice(1), { cwd: work, env: env as NodeJS.ProcessEnv, input: stdin });
        stdin = undefined;
        last = { code: r.status ?? 128, stdout: r.stdout?.toString() ?? "", stderr: r.stderr?.toString() ?? "" };
        if (negate ? last.code === 0 : last.code !== 0) fail(`exit code ${last.code}`);
        break;
      }
      case "stdin":
        stdin = readFileSync(resolve(work, args[0]!));
        break;
      case "env": {
        const [k, ...v] = args.join(" ").split("=");
        env[k!] = v.join("=");
        break;
      }
      case "stdout":
      case "stderr": {
        const matched = new RegExp(args.join(" "), "m").test(last[cmd]);
        if (matched === negate) fail(`${cmd} ${negate ? "matches" : "does not match"} /${args.join(" ")}/`);
        break;
      }
      case "code":
        if (last.code !== Number(args[0])) fail(`exit code ${last.code}, want ${args[0]}`);
        break;
      case "exists":
        if (existsSync(resolve(work, args[0]!)) === negate) fail(`${args[0]} ${negate ? "exists" : "does not exist"}`);
        break;
      case "mode": {
        const m = (statSync(resolve(work, args[0]!)).mode & 0o777).toString(8).padStart(4, "0");
        if (m !== args[1]) fail(`${args[0]} has mode ${m}, want ${args[1]}`);
        break;
      }
      case "cmp": {
        const same = readFileSync(resolve(work, args[0]!)).equals(readFileSync(resolve(work, args[1]!)));
        if (same === negate) fail(`${args[0]} and ${args[1]} ${negate ? "are identical" : "differ"}`);
        break;
      }
      case "snapshot":
        snapshot = repoSnapshot();
        break;
      case "unchanged": {
        const now = repoSnapshot();
        const a = JSON.stringify([...snapshot!].sort());
        const b = JSON.stringify([...now].sort());
        if (a !== b) fail("the repo changed");
        break;
      }
      default:
        fail(`unknown transcript command ${cmd}`);
    }
  }
}

function splitTxtar(text: string): [string, Map<string, string>] {
  const files = new Map<string, string>();
  const parts = text.split(/^-- (.+) --$/m);
  for (let i = 1; i < parts.length; i += 2) files.set(parts[i]!, parts[i + 1]!.replace(/^\n/, ""));
  return [parts[0]!, files];
}

function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] ?? m[2]!);
  return words;
}

function expand(word: string, work: string): string {
  return word
    .replace(/\$\{file:([^}]+)\}/g, (_, f: string) => readFileSync(resolve(work, f), "utf8").trim())
    .replace(/\$\{nul\}/g, "\0")
    .replace(/\$\{nl\}/g, "\n")
    .replace(/\$WORK/g, work);
}

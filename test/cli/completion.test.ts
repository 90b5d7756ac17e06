// Shell completions and the man page, generated from the command table: loaded into a
// real bash (and fish and zsh when installed) and asked what they complete, in a repo with
// hosts, tags and secrets; the man page rendered by man -l. The built CLI (dist/) is what
// the shells call back, through a `nixseal` on PATH, as after `npm install -g`.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT } from "../../cli/environment.js";
import { allCommands, commandSpec } from "../../cli/completion/model.js";
import { buildProgram } from "../../cli/main.js";
import { runNixseal, testEnv } from "./harness.js";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "dist/cli/bin.js");
const has = (prog: string) => spawnSync("sh", ["-c", `command -v ${prog}`]).status === 0;
const program = commandSpec(buildProgram({ io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: {}, cwd: ROOT }, exitCode: 0 }));

let work: string;
let repo: string;
let path: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "nixseal-completion-"));
  repo = join(work, "repo");
  mkdirSync(repo);
  mkdirSync(join(work, "bin"));
  symlinkSync(BIN, join(work, "bin", "nixseal"));
  path = `${join(work, "bin")}:${process.env.PATH}`;
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "hk")]);
  const key = readFileSync(join(work, "hk.pub"), "utf8").trim();
  const env = testEnv(work);
  const run = async (args: string[], stdin?: string) => {
    const r = await runNixseal(args, { cwd: repo, env, stdin });
    if (r.code !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
  };
  await run(["init"]);
  await run(["host", "add", "web1", "--target", "root@127.0.0.1", "--key", key, "--tag", "web,eu"]);
  await run(["host", "add", "web2", "--target", "root@127.0.0.1", "--key", key, "--tag", "web"]);
  await run(["host", "add", "db1", "--target", "root@127.0.0.1", "--key", key]);
  await run(["secrets", "add", "db-password", "--host", "db1"], "v1");
  await run(["secrets", "add", "tls.key", "--host", "@web"], "v2");
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The completion script as an installed `nixseal completion SHELL` prints it. */
function script(shell: string): string {
  const r = spawnSync(join(work, "bin", "nixseal"), ["completion", shell], { encoding: "utf8", env: { PATH: path } });
  expect(r.status, r.stderr).toBe(0);
  const file = join(work, `completion.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

describe("bash completion (real bash, the generated script sourced)", () => {
  /** COMPREPLY for a command line whose last word is being completed. */
  const complete = (file: string, words: string[]): string[] => {
    const r = spawnSync(
      "bash",
      ["-c", 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _nixseal; printf "%s\\n" "${COMPREPLY[@]}"', "bash", file, ...words],
      // stdin not a socket, so bash does not read a .bashrc as for sshd
      { cwd: repo, encoding: "utf8", env: { PATH: path, HOME: join(work, "home") }, stdio: ["ignore", "pipe", "pipe"] },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    return r.stdout.split("\n").filter(Boolean).sort();
  };

  it("registers for nixseal and completes commands, subcommands, options, hosts, @tags and secret names", () => {
    const file = script("bash");
    const r = spawnSync("bash", ["-c", 'source "$1"; complete -p nixseal', "bash", file], { encoding: "utf8", env: { PATH: path } });
    expect(r.stdout.trim()).toBe("complete -F _nixseal nixseal");

    expect(complete(file, ["nixseal", "sec"])).toEqual(["secrets"]);
    expect(complete(file, ["nixseal", "secrets", "c"])).toEqual(["cat"]);
    expect(complete(file, ["nixseal", "secrets", "cat", ""])).toEqual(["db-password", "tls.key"]);
    expect(complete(file, ["nixseal", "secrets", "cat", "d"])).toEqual(["db-password"]);
    expect(complete(file, ["nixseal", "host", "rm", "w"])).toEqual(["web1", "web2"]);
    expect(complete(file, ["nixseal", "deploy", ""])).toEqual(["@eu", "@web", "db1", "web1", "web2"]);
    expect(complete(file, ["nixseal", "deploy", "@"])).toEqual(["@eu", "@web"]);
    expect(complete(file, ["nixseal", "deploy", "--on", "web1,d"])).toEqual(["web1,db1"]);
    expect(complete(file, ["nixseal", "secrets", "add", "x", "--host", "db1", "--ow"])).toEqual(["--owner"]);
    // an option's value is not taken for a command: --host db1 then the next operand
    expect(complete(file, ["nixseal", "secrets", "set", "--host", "db1", ""])).toEqual(["db-password", "tls.key"]);
    expect(complete(file, ["nixseal", "deploy", "--dr"])).toEqual(["--dry-run"]);
    // files for file options
    expect(complete(file, ["nixseal", "secrets", "cat", "x", "-i", "nixseal.j"])).toEqual(["nixseal.json"]);
  });

  it("offers every command of the command table at its place (a new command needs no other change)", () => {
    const file = script("bash");
    for (const c of allCommands(program).filter((c) => c.subcommands.length > 0)) {
      expect(complete(file, ["nixseal", ...c.path, ""]), c.path.join(" ")).toEqual(c.subcommands.map((s) => s.name).sort());
    }
    const deploy = program.subcommands.find((c) => c.name === "deploy")!;
    expect(complete(file, ["nixseal", "deploy", "-"])).toEqual(deploy.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[]).sort());
  });

  it("outside a repo completes commands and no names, silently", () => {
    const file = script("bash");
    const r = spawnSync("bash", ["-c", 'source "$1"; COMP_WORDS=(nixseal secrets cat ""); COMP_CWORD=3; _nixseal; echo "${#COMPREPLY[@]}"', "bash", file], {
      cwd: work,
      encoding: "utf8",
      env: { PATH: path, HOME: join(work, "home") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(r.stdout.trim()).toBe("0");
    expect(r.stderr).toBe("");
  });
});

describe.skipIf(!has("fish"))("fish completion (real fish)", () => {
  it("completes commands, hosts, @tags and secret names", () => {
    const file = script("fish");
    const complete = (line: string): string[] => {
      const r = spawnSync("fish", ["--no-config", "-c", `source ${JSON.stringify(file)}; complete -C${JSON.stringify(line)}`], { cwd: repo, encoding: "utf8", env: { PATH: path, HOME: join(work, "home") } });
      expect(r.stderr).toBe("");
      return r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]!).sort();
    };
    expect(complete("nixseal sec")).toEqual(["secrets"]);
    expect(complete("nixseal secrets cat ")).toEqual(["db-password", "tls.key"]);
    expect(complete("nixseal deploy ")).toEqual(["@eu", "@web", "db1", "web1", "web2"]);
    expect(complete("nixseal secrets add x --host web2,")).toEqual(["web2,@eu", "web2,@web", "web2,db1", "web2,web1", "web2,web2"]);
    expect(complete("nixseal host set web1 --unt")).toEqual(["--untag"]);
  });
});

describe.skipIf(!has("zsh"))("zsh completion (real zsh)", () => {
  it("parses, and compinit picks it up as the completer of nixseal", () => {
    const file = script("zsh");
    expect(spawnSync("zsh", ["-n", file]).status).toBe(0);
    const fpath = join(work, "zfunc");
    mkdirSync(fpath, { recursive: true });
    writeFileSync(join(fpath, "_nixseal"), readFileSync(file));
    const r = spawnSync("zsh", ["-f", "-c", `fpath=(${fpath} $fpath); autoload -Uz compinit; compinit -u -d ${join(work, "zcompdump")}; print -r -- $_comps[nixseal]`], { encoding: "utf8", env: { PATH: path, HOME: join(work, "home") } });
    expect(r.stdout.trim()).toBe("_nixseal");
  });
});

describe("man page", () => {
  it.skipIf(!has("man"))("renders with man -l, names every command with its options and examples", () => {
    const page = join(ROOT, "dist/man/nixseal.1");
    const r = spawnSync("man", ["--warnings", "-l", page], { encoding: "utf8", env: { PATH: process.env.PATH, MANPAGER: "cat", MANWIDTH: "100", LANG: "C.UTF-8" } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const text = r.stdout.replace(/.\x08/g, "");
    expect(text).toMatch(/^NIXSEAL\(1\)/);
    for (const c of allCommands(program).filter((c) => c.path.length && c.subcommands.length === 0)) {
      expect(text, c.path.join(" ")).toContain(`nixseal ${c.path.join(" ")}`);
    }
    expect(text).toContain("--dry-run");
    expect(text).toContain("nixseal deploy @web --secrets-only");
    for (const [name] of ENVIRONMENT) expect(text).toContain(name);
  });

  it("in dist/ is the one the current command table makes (the build wrote it)", async () => {
    const { manPage } = await import("../../cli/completion/man.js");
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(readFileSync(join(ROOT, "dist/man/nixseal.1"), "utf8")).toBe(manPage(program, version));
  });

  it("lists the environment variables docs/cli.md's table lists", () => {
    const doc = readFileSync(join(ROOT, "docs/cli.md"), "utf8");
    const table = doc.slice(doc.indexOf("## Environment"));
    const documented = [...table.slice(0, table.indexOf("\n## ", 3)).matchAll(/^\| `([^`]+)`(?:, `([^`]+)`)? \|/gm)].flatMap((m) => [m[1]!, m[2]].filter(Boolean) as string[]);
    expect(documented.sort()).toEqual(ENVIRONMENT.flatMap(([k]) => k.split(", ")).sort());
  });
});

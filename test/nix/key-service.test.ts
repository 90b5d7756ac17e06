// The NixOps-compatible <name>-key.service scripts (nix/key-service.nix), run
// for real with bash and inotifywait against a directory laid out as the agent
// lays out /run/keys: per-name links through runDir/current.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { haveNix, nixEval } from "./nix.js";

const haveInotify = spawnSync("sh", ["-c", "command -v inotifywait"], { stdio: "ignore" }).status === 0;
if (!haveInotify) console.warn("test/nix/key-service.test.ts: inotifywait not found; install inotify-tools (scripts/setup.sh does)");

type KeyUnit = { preStart: string; script: string; serviceConfig: Record<string, string | number> };

function keyUnit(name: string, keysDir: string): KeyUnit {
  return nixEval(`import ./nix/key-service.nix { name = ${JSON.stringify(name)}; keysDir = ${JSON.stringify(keysDir)}; }`) as KeyUnit;
}

/** Runs a unit script the way NixOS does (`#! bash -e`), and records its exit. */
function run(script: string): { child: ChildProcess; exited: Promise<number | null>; done: () => boolean } {
  const child = spawn("bash", ["--norc", "--noprofile", "-e", "-c", script], { stdio: "ignore" });
  let finished = false;
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => { finished = true; resolve(code); }));
  return { child, exited, done: () => finished };
}

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pid of the script's inotifywait child, if it has one now. */
function watcherOf(child: ChildProcess): number | undefined {
  const r = spawnSync("pgrep", ["-P", String(child.pid), "-x", "inotifywait"], { encoding: "utf8" });
  const pid = r.stdout.trim().split("\n")[0];
  return pid ? Number(pid) : undefined;
}

/** /run/nixseal and /run/keys in a temp dir: generation <gen> made live the agent's way. */
function layout() {
  const root = mkdtempSync(join(tmpdir(), "nixseal-keyunit-"));
  const runDir = join(root, "run");
  const keysDir = join(root, "keys");
  mkdirSync(runDir);
  mkdirSync(keysDir);
  const flip = (link: string, target: string) => {
    const tmp = `${link}.tmp`;
    symlinkSync(target, tmp);
    renameSync(tmp, link);
  };
  return {
    root,
    keysDir,
    generation(gen: number, names: string[]) {
      mkdirSync(join(runDir, String(gen)));
      for (const n of names) writeFileSync(join(runDir, String(gen), n), "not a real secret\n");
      flip(join(runDir, "current"), String(gen));
    },
    link(name: string) {
      flip(join(keysDir, name), join(runDir, "current", name));
    },
    prune(gen: number) {
      rmSync(join(runDir, String(gen)), { recursive: true });
    },
    unlink(name: string) {
      unlinkSync(join(keysDir, name));
    },
  };
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

it("inotifywait is installed (inotify-tools; scripts/setup.sh installs it)", () => {
  expect(haveInotify).toBe(true);
});

describe.skipIf(!haveNix() || !haveInotify)("<name>-key.service scripts (NixOps semantics)", () => {
  it("has NixOps' unit settings: restarts forever, waits without a start timeout", () => {
    const u = keyUnit("db-password", "/run/keys");
    expect(u.serviceConfig).toMatchObject({ Restart: "always", TimeoutStartSec: "infinity" });
    expect(u.preStart).toContain("'/run/keys/db-password'");
  });

  it("start waits until the key's link appears, then finishes", async () => {
    const l = layout();
    const u = keyUnit("app-env", l.keysDir);
    const pre = run(u.preStart);
    children.push(pre.child);
    await waitFor("the watch to be armed", () => watcherOf(pre.child) !== undefined, 5000);
    expect(pre.done()).toBe(false);
    l.generation(1, ["app-env"]);
    const linkedAt = Date.now();
    l.link("app-env");
    expect(await pre.exited).toBe(0);
    // Woken by the event, not by the 5 s fallback timeout.
    expect(Date.now() - linkedAt).toBeLessThan(4000);
    rmSync(l.root, { recursive: true });
  });

  it("start also finishes when a dangling link's target appears later (the fallback look)", async () => {
    const l = layout();
    const u = keyUnit("tls", l.keysDir);
    l.link("tls"); // points through current/, which does not exist yet
    const pre = run(u.preStart);
    children.push(pre.child);
    await waitFor("the watch to be armed", () => watcherOf(pre.child) !== undefined, 5000);
    l.generation(1, ["tls"]);
    expect(pre.done()).toBe(false);
    expect(await pre.exited).toBe(0);
    rmSync(l.root, { recursive: true });
  }, 20_000);

  it("stays active across a generation switch and prune, and stops when the key goes", async () => {
    const l = layout();
    l.generation(1, ["tls"]);
    l.link("tls");
    const u = keyUnit("tls", l.keysDir);
    const main = run(u.script);
    children.push(main.child);
    await waitFor("the watch to be armed", () => watcherOf(main.child) !== undefined, 5000);
    const first = watcherOf(main.child);

    l.generation(2, ["tls"]);
    l.prune(1); // wakes the watch on generation 1's file
    await waitFor("a new watch on generation 2", () => {
      const w = watcherOf(main.child);
      return w !== undefined && w !== first;
    }, 5000);
    expect(main.done()).toBe(false);

    const goneAt = Date.now();
    l.unlink("tls");
    expect(await main.exited).toBe(0);
    expect(Date.now() - goneAt).toBeLessThan(4000);
    rmSync(l.root, { recursive: true });
  });

  it("stops at once when the key is not there (Restart=always then waits in start)", async () => {
    const l = layout();
    const main = run(keyUnit("missing", l.keysDir).script);
    children.push(main.child);
    expect(await main.exited).toBe(0);
    rmSync(l.root, { recursive: true });
  });
});

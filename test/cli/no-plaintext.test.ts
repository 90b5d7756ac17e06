// No plaintext on persistent disk, and none in messages, after any command:
// every value goes in on stdin (or is generated), and afterwards the repo,
// HOME, /tmp and /var/tmp are grepped for each one.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runNixseal, testEnv, type RunResult } from "./harness.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-noplain-"));
const shm = mkdtempSync("/dev/shm/nixseal-noplain-");
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(shm, { recursive: true, force: true });
});

function grepDisk(needle: string, dirs: string[]): string[] {
  const r = spawnSync("grep", ["-rlsF", "-D", "skip", "--binary-files=text", "--", needle, ...dirs], { encoding: "utf8", maxBuffer: 1 << 24 });
  return r.stdout.split("\n").filter(Boolean);
}

describe("no plaintext left behind", () => {
  it("after add, rotate, set, rekey, edit and cat", async () => {
    const repo = join(work, "repo");
    mkdirSync(repo);
    for (const h of ["web1", "web2"]) spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, h)]);
    writeFileSync(join(work, "upcase.sh"), '#!/bin/sh\ntr a-z A-Z < "$1" > "$1.new" && mv "$1.new" "$1"\n', { mode: 0o755 });
    const env = testEnv(repo, { NIXSEAL_EDIT_DIR: shm, EDITOR: join(work, "upcase.sh") });
    const outputs: RunResult[] = [];
    const run = async (argv: string[], stdin?: string) => {
      const r = await runNixseal(argv, { cwd: repo, env, stdin });
      outputs.push(r);
      expect(r.stderr).not.toContain("error");
      return r;
    };
    const fresh = () => `plain-${randomBytes(10).toString("hex")}`;
    const values: string[] = [];

    await run(["init"]);
    await run(["host", "add", "web1", "--target", "root@127.0.0.1", "--key", readFileSync(join(work, "web1.pub"), "utf8")]);
    const v1 = fresh();
    values.push(v1);
    await run(["secrets", "add", "db", "--host", "web1"], v1);
    await run(["secrets", "add", "gen", "--host", "web1", "--generate", "20", "--encoding", "alnum"]);
    values.push((await run(["secrets", "cat", "gen"])).stdout);
    const v2 = fresh();
    values.push(v2);
    await run(["secrets", "rotate", "db"], v2);
    await run(["host", "add", "web2", "--target", "root@127.0.0.1", "--key", readFileSync(join(work, "web2.pub"), "utf8")]);
    await run(["secrets", "set", "db", "--add-host", "web2"]);
    await run(["secrets", "rekey", "--all"]);
    await run(["secrets", "edit", "db"]);
    const edited = (await run(["secrets", "cat", "db"])).stdout;
    expect(edited).toBe(v2.toUpperCase());
    values.push(edited);

    // The probe itself works: a value that is on disk is found.
    writeFileSync(join(work, "control.txt"), `x${v1}x`);
    expect(grepDisk(v1, [work])).toEqual([join(work, "control.txt")]);
    rmSync(join(work, "control.txt"));

    for (const v of values) {
      expect(v.length).toBeGreaterThanOrEqual(20);
      expect(grepDisk(v, [repo, join(repo, "home"), "/tmp", "/var/tmp", shm])).toEqual([]);
      for (const o of outputs) expect(o.stderr).not.toContain(v);
    }
  });
});

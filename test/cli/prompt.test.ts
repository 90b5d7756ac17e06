// Reading from the person at the terminal: a value typed without echo, and the
// passphrase of an encrypted SSH identity. stdin/stderr are marked as a TTY.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import { runNixseal, testEnv } from "./harness.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-prompt-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function onTty(argv: string[], cwd: string, typed: string) {
  let rawMode = false;
  const stdin = Object.assign(Readable.from([Buffer.from(typed)]), {
    isTTY: true,
    setRawMode: (on: boolean) => void (rawMode = on),
  });
  const stderr = Object.assign(new PassThrough(), { isTTY: true });
  const stdout = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c: Buffer) => (out += c.toString()));
  stderr.on("data", (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdin, stdout, stderr, env: { ...testEnv(cwd), NO_COLOR: "1" }, cwd });
  return { code, stdout: out, stderr: err, rawModeAfter: rawMode };
}

describe("terminal input", () => {
  it("takes a typed value without echo, and an SSH identity's passphrase", async () => {
    const repo = join(work, "repo");
    mkdirSync(repo);
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "web1")]);
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "tty pass", "-f", join(work, "op")]);
    const env = testEnv(repo);
    expect((await runNixseal(["init", "--identity", join(work, "op")], { cwd: repo, env })).code).toBe(0);
    await runNixseal(["host", "add", "web1", "--target", "root@127.0.0.1", "--key", readFileSync(join(work, "web1.pub"), "utf8")], { cwd: repo, env });

    const add = await onTty(["secrets", "add", "typed", "--host", "web1"], repo, "typed value\r");
    expect(add.code).toBe(0);
    expect(add.stderr).toContain("value (input hidden, Enter to finish): ");
    expect(add.stderr).not.toContain("typed value");
    expect(add.rawModeAfter).toBe(false);

    const cat = await onTty(["secrets", "cat", "typed", "-i", join(work, "op")], repo, "tty pass\n");
    expect(cat.stderr).toContain(`passphrase for ${join(work, "op")}: `);
    expect(cat.stderr).not.toContain("tty pass");
    expect(cat.stdout).toBe("typed value");

    const wrong = await onTty(["secrets", "cat", "typed", "-i", join(work, "op")], repo, "nope\n");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("wrong passphrase");
    expect(wrong.stdout).toBe("");
  });
});

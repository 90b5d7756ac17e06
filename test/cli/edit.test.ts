// `secrets edit`: cleartext only on a tmpfs, removed in every outcome nixseal
// can see; a SIGKILLed edit leaves nothing on persistent disk, and its tmpfs
// leftover is swept by the next edit of the same user, who never touches another
// user's directories on a shared tmpfs. Runs the built CLI as a real process.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureUser } from "../host-agent/support.js";
import { runNixseal, snapshotTree, testEnv } from "./harness.js";

const BIN = join(import.meta.dirname, "../../dist/cli/bin.js");
let work: string;
let repo: string;
let shm: string;
let value: string;

/** Polls a condition (no fixed sleeps) until it holds or the timeout passes. */
async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Files under dirs whose bytes contain the needle (grep -rlF, errors ignored). */
function grepDisk(needle: string, dirs: string[]): string[] {
  const r = spawnSync("grep", ["-rlsF", "-D", "skip", "--binary-files=text", "--", needle, ...dirs], { encoding: "utf8", maxBuffer: 1 << 24 });
  return r.stdout.split("\n").filter(Boolean);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "nixseal-edit-test-"));
  repo = join(work, "repo");
  mkdirSync(repo);
  shm = mkdtempSync("/dev/shm/nixseal-edit-test-");
  value = `edit-plaintext-${randomBytes(12).toString("hex")}`;
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "hk")]);
  const env = testEnv(repo);
  await runNixseal(["init"], { cwd: repo, env });
  await runNixseal(["host", "add", "web1", "--target", "root@127.0.0.1", "--key", readFileSync(join(work, "hk.pub"), "utf8")], { cwd: repo, env });
  const added = await runNixseal(["secrets", "add", "api", "--host", "web1"], { cwd: repo, env, stdin: value });
  expect(added.code).toBe(0);
  // Editors: one signals readiness then waits to be killed; one changes the value.
  writeFileSync(join(work, "hang.sh"), '#!/bin/sh\nprintf "%s %s\\n" "$$" "$1" > "$READY.tmp" && mv "$READY.tmp" "$READY"\nexec sleep 300\n', { mode: 0o755 });
  writeFileSync(join(work, "upcase.sh"), '#!/bin/sh\ntr a-z A-Z < "$1" > "$1.new" && mv "$1.new" "$1"\n', { mode: 0o755 });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(shm, { recursive: true, force: true });
});

/** The repo's files, without the lock a killed process leaves (taken over next time: same host, dead pid). */
function repoState(): Map<string, string> {
  const m = snapshotTree(repo);
  m.delete(".nixseal.lock");
  return m;
}

/** This user's own edit directory on the test tmpfs (what nixseal makes, 0700). */
const mine = () => join(shm, `nixseal-edit-${process.getuid!()}`);

function editEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...(testEnv(repo) as NodeJS.ProcessEnv), NIXSEAL_EDIT_DIR: shm, ...extra };
}

/** Starts `nixseal secrets edit api` with the hanging editor; resolves when the editor has the file. */
async function startHangingEdit(ready: string) {
  const child = spawn(process.execPath, [BIN, "secrets", "edit", "api"], { cwd: repo, env: editEnv({ EDITOR: join(work, "hang.sh"), READY: ready }), stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const [editorPid, file] = (
    await waitFor(`the editor to start`, () => {
      if (child.exitCode !== null) throw new Error(`nixseal exited ${child.exitCode}: ${stderr}`);
      return existsSync(ready) ? readFileSync(ready, "utf8").trim() : undefined;
    })
  ).split(" ");
  return { child, exited, editorPid: Number(editorPid), file: file! };
}

describe.skipIf(!existsSync(BIN))("secrets edit", () => {
  it("edits through a scripted $EDITOR on the tmpfs and removes the cleartext afterwards", async () => {
    const r = await runNixseal(["secrets", "edit", "api"], { cwd: repo, env: testEnv(repo, { NIXSEAL_EDIT_DIR: shm, EDITOR: join(work, "upcase.sh") }) });
    expect(r.stderr).toContain("updated api (version 2)");
    expect(readdirSync(shm)).toEqual([]);
    const cat = await runNixseal(["secrets", "cat", "api"], { cwd: repo, env: testEnv(repo) });
    expect(cat.stdout).toBe(value.toUpperCase());
    // Put the original value back for the tests below.
    await runNixseal(["secrets", "rotate", "api"], { cwd: repo, env: testEnv(repo), stdin: value });
  });

  it("refuses to put cleartext on a disk file system", async () => {
    const before = snapshotTree(repo);
    const r = await runNixseal(["secrets", "edit", "api"], { cwd: repo, env: testEnv(repo, { NIXSEAL_EDIT_DIR: "/var/tmp", EDITOR: "true" }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no tmpfs to edit on (tried /var/tmp); refusing to put cleartext on a disk");
    expect(snapshotTree(repo)).toEqual(before);
  });

  it("SIGTERM during the edit removes the cleartext and changes nothing", async () => {
    const before = repoState();
    const ed = await startHangingEdit(join(work, "ready-term"));
    expect(ed.file.startsWith(`${mine()}/`)).toBe(true);
    expect(statSync(join(ed.file, "..")).mode & 0o777).toBe(0o700);
    expect(readFileSync(ed.file, "utf8")).toBe(value);
    // A second operator meanwhile: refused, told who holds the repo.
    const other = await runNixseal(["secrets", "rotate", "api", "--generate", "8"], { cwd: repo, env: testEnv(repo) });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`error: another nixseal is running on this repo (pid ${ed.child.pid}, since `);
    expect(other.stderr).toContain(`hint: wait for it to finish, or remove ${join(repo, ".nixseal.lock")} if no nixseal is running`);
    ed.child.kill("SIGTERM");
    expect((await ed.exited).code).toBe(143);
    process.kill(ed.editorPid, "SIGKILL");
    expect(existsSync(ed.file)).toBe(false);
    expect(readdirSync(shm)).toEqual([]);
    expect(repoState()).toEqual(before);
  });

  it("a SIGKILLed edit leaves no plaintext on persistent disk; its tmpfs leftover is swept by the next edit", async () => {
    const before = repoState();
    const ed = await startHangingEdit(join(work, "ready-kill"));
    expect(readFileSync(ed.file, "utf8")).toBe(value);
    ed.child.kill("SIGKILL");
    expect((await ed.exited).signal).toBe("SIGKILL");
    process.kill(ed.editorPid, "SIGKILL");

    expect(grepDisk(value, [repo, "/tmp", "/var/tmp"])).toEqual([]);
    expect(repoState()).toEqual(before);
    // What SIGKILL cannot clean: the private dir on the tmpfs (RAM), still 0700.
    const leftover = join(ed.file, "..");
    expect(existsSync(leftover)).toBe(true);

    // The next edit takes over the dead process's lock and sweeps the leftover.
    const next = await runNixseal(["secrets", "edit", "api"], { cwd: repo, env: testEnv(repo, { NIXSEAL_EDIT_DIR: shm, EDITOR: "true" }) });
    expect(next.stderr).toContain("api unchanged; nothing written");
    expect(existsSync(leftover)).toBe(false);
    expect(readdirSync(shm)).toEqual([]);
    expect(grepDisk(value, [shm])).toEqual([]);
  });

  it("another user's directories on a shared tmpfs are never swept, used or written into", async () => {
    const removeUser = ensureUser("nxs-edit-other");
    const other = Number(spawnSync("id", ["-u", "nxs-edit-other"], { encoding: "utf8" }).stdout);
    const shared = mkdtempSync("/dev/shm/nixseal-edit-shared-");
    try {
      chmodSync(shared, 0o1777);
      const env = testEnv(repo, { NIXSEAL_EDIT_DIR: shared, EDITOR: "true" });
      // a leftover-looking dir of a dead pid, planted by another user: left alone
      const planted = join(shared, "nixseal-edit-999999999-abcdef");
      mkdirSync(join(planted, "deep"), { recursive: true });
      chownSync(planted, other, other);
      const ok = await runNixseal(["secrets", "edit", "api"], { cwd: repo, env });
      expect(ok.code).toBe(0);
      expect(existsSync(join(planted, "deep"))).toBe(true);
      // this user's own dir name, made first by the other user: refused, nothing written there
      expect(existsSync(join(shared, `nixseal-edit-${process.getuid!()}`))).toBe(false); // removed once empty
      const hijack = join(shared, `nixseal-edit-${process.getuid!()}`);
      mkdirSync(hijack, { mode: 0o777 });
      chownSync(hijack, other, other);
      const before = repoState();
      const r = await runNixseal(["secrets", "edit", "api"], { cwd: repo, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: ${hijack} belongs to uid ${other}, not to you (uid ${process.getuid!()}); refusing to put cleartext there`);
      expect(r.stderr).toContain("hint: if it is not yours, have root remove it");
      expect(readdirSync(hijack)).toEqual([]);
      expect(repoState()).toEqual(before);
      // a symlink there (to a directory of the attacker's choosing): refused too
      rmSync(hijack, { recursive: true });
      symlinkSync(planted, hijack);
      const s = await runNixseal(["secrets", "edit", "api"], { cwd: repo, env });
      expect(s.code).toBe(1);
      expect(s.stderr).toContain(`${hijack} is a symlink; refusing to put cleartext there`);
      expect(readdirSync(planted)).toEqual(["deep"]);
      expect(grepDisk(value, [shared])).toEqual([]);
    } finally {
      rmSync(shared, { recursive: true, force: true });
      removeUser();
    }
  });
});

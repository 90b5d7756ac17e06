// The admin identity round-trips through a real OS keychain (gnome-keyring's
// Secret Service under dbus-run-session) and through the file fallback.
// Runs the built CLI (dist/cli/bin.js) as separate processes.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = join(import.meta.dirname, "../../dist/cli/bin.js");
const VALUE = `keychain-value-${process.pid}-${Date.now()}`;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "nixseal-keychain-"));
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "hk")]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a shell script inside a fresh D-Bus session with an unlocked gnome-keyring. */
function inKeyringSession(home: string, repo: string, script: string, input?: string) {
  const env = { PATH: process.env.PATH!, HOME: home, TMPDIR: tmpdir(), BIN, HK: join(work, "hk.pub") };
  const full = `printf test-keyring-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1\n${script}`;
  return spawnSync("dbus-run-session", ["--", "sh", "-ec", full], { cwd: repo, env, input, encoding: "utf8", timeout: 60_000 });
}

function withoutKeyring(home: string, repo: string, script: string, input?: string) {
  // No D-Bus session at all: the keychain is unreachable.
  const env = { PATH: process.env.PATH!, HOME: home, TMPDIR: tmpdir(), BIN, HK: join(work, "hk.pub") };
  return spawnSync("sh", ["-ec", script], { cwd: repo, env, input, encoding: "utf8", timeout: 60_000 });
}

const setup = `node "$BIN" init >&2
node "$BIN" host add h --target root@127.0.0.1 --key "$(cat "$HK")" >&2
node "$BIN" secrets add s --host h >&2
node "$BIN" secrets cat s`;

describe("admin identity in the OS keychain", () => {
  it.skipIf(!existsSync(BIN))("init stores it in gnome-keyring; later commands (and a later session) decrypt with it", () => {
    const home = join(work, "home-kc");
    const repo = join(work, "repo-kc");
    spawnSync("mkdir", ["-p", home, repo]);
    const first = inKeyringSession(home, repo, setup, VALUE);
    expect(first.stderr).toContain("created an admin identity and stored it in the OS keychain");
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(VALUE);
    // Nothing was written as a file: the key lives only in the keychain.
    expect(existsSync(join(home, ".config/nixseal/identity.txt"))).toBe(false);
    expect(readFileSync(join(repo, "nixseal.json"), "utf8")).not.toContain("AGE-SECRET-KEY");

    // A new session, same user: gnome-keyring kept the entry in its login keyring.
    const second = inKeyringSession(home, repo, `node "$BIN" secrets cat s`);
    expect(second.stderr).not.toContain("nixseal:");
    expect(second.stdout).toBe(VALUE);

    // A second init elsewhere reuses the same identity instead of making another.
    const repo2 = join(work, "repo-kc2");
    spawnSync("mkdir", ["-p", repo2]);
    const again = inKeyringSession(home, repo2, `node "$BIN" init`);
    expect(again.stderr).toContain("using your admin identity from the OS keychain");
    const admins = (dir: string) => JSON.parse(readFileSync(join(dir, "nixseal.json"), "utf8")).admins[0].recipient;
    expect(admins(repo2)).toBe(admins(repo));

    // Without the keychain there is no identity: a clear error naming where it looked.
    const none = withoutKeyring(home, repo, `node "$BIN" secrets cat s`);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("no admin identity found");
    expect(none.stderr).toMatch(/OS keychain \(not reachable: /);
  });
});

describe("identity file fallback", () => {
  it.skipIf(!existsSync(BIN))("init says no keychain is reachable and writes a 0600 identity file that later commands use", () => {
    const home = join(work, "home-file");
    const repo = join(work, "repo-file");
    spawnSync("mkdir", ["-p", home, repo]);
    const r = withoutKeyring(home, repo, setup, VALUE);
    if (r.status !== 0) console.log(r.stderr);
    expect(r.stderr).toMatch(/warning: no OS keychain reachable \(.+\); admin identity is in .*identity\.txt \(mode 0600\)/);
    // the reason in one line a person can act on, not the D-Bus library's message
    expect(r.stderr).toContain("(no D-Bus session to reach it through (DBUS_SESSION_BUS_ADDRESS is unset, as in a plain SSH login))");
    expect(r.stderr).not.toMatch(/autolaunch|X11|Platform failure/);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(VALUE);
    const file = join(home, ".config/nixseal/identity.txt");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, ".config/nixseal")).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, "utf8")).toMatch(/^AGE-SECRET-KEY-1/m);
  });
});

describe("an identity in the keychain, needed in a session without D-Bus (an SSH login)", () => {
  it.skipIf(!existsSync(BIN))("is not found there with the way to carry it over, and export (inside) + import (outside) carry it", () => {
    const home = join(work, "home-move");
    const repo = join(work, "repo-move");
    spawnSync("mkdir", ["-p", home, repo]);
    const first = inKeyringSession(home, repo, setup, VALUE);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain("stored it in the OS keychain");
    const where = inKeyringSession(home, repo, `node "$BIN" identity where`);
    expect(where.stdout).toContain("identity: keychain");
    expect(where.stdout).toContain("OS keychain: reachable, holds your identity");

    // outside the session: not found, and the hint says how to bring it, not "nixseal init"
    const outside = withoutKeyring(home, repo, `node "$BIN" secrets cat s`);
    expect(outside.status).toBe(1);
    expect(outside.stderr).toContain("no admin identity found");
    expect(outside.stderr).toContain("no D-Bus session to reach it through");
    expect(outside.stderr).toContain('there, "nixseal identity export --out FILE"; here, "nixseal identity import FILE"');
    expect(outside.stderr).not.toContain("nixseal init");

    const carried = join(work, "carried.txt");
    const exported = inKeyringSession(home, repo, `node "$BIN" identity export --out "${carried}"`);
    expect(exported.status, exported.stderr).toBe(0);
    expect(statSync(carried).mode & 0o777).toBe(0o600);
    // no private key on a terminal: export to stdout only into a pipe or file
    const imported = withoutKeyring(home, repo, `node "$BIN" identity import "${carried}" && rm "${carried}" && node "$BIN" secrets cat s && node "$BIN" identity where`);
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(/stored the identity in .*identity\.txt \(no OS keychain: no D-Bus session/);
    expect(imported.stdout).toContain(VALUE);
    expect(imported.stdout).toMatch(/identity: .*identity\.txt/);
    expect(imported.stdout).toContain("admin of this repo: yes");
    // the keychain still has it too, for the desktop session
    const still = inKeyringSession(home, repo, `node "$BIN" secrets cat s`);
    expect(still.stdout).toBe(VALUE);
  });
});

// `nixseal import nixops`: NixOps-shaped state files built with Python's sqlite3 and
// the real DDL (nixops-state.ts), real host keys from ssh-keygen, the real `age`
// binary opening what was imported with each host's private key.
import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { age, sshKeygen, type KeyPair } from "../../core/support.js";
import { runNixseal, snapshotTree, testEnv, type RunResult } from "../harness.js";
import { holdWriteLock, writeNixopsState, type StateSpec } from "./nixops-state.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-import-nixops-"));
// NixOps' state holds plaintext: the test keeps its state files on a tmpfs, and the
// importer's private copy goes to its own tmpfs dir, checked empty afterwards.
const stateDir = mkdtempSync("/dev/shm/nixseal-nixops-state-");
const editDir = mkdtempSync("/dev/shm/nixseal-nixops-copy-");
afterAll(() => {
  for (const d of [work, stateDir, editDir]) rmSync(d, { recursive: true, force: true });
});

const keys: Record<string, KeyPair> = {};
let repoCount = 0;
const value = (label: string): string => `${label}-${randomBytes(12).toString("hex")}`;

beforeAll(() => {
  for (const h of ["web1", "web2", "db1"]) keys[h] = sshKeygen(work, h, "ed25519");
});

async function freshRepo(): Promise<{ dir: string; run: (argv: string[]) => Promise<RunResult> }> {
  const dir = join(work, `repo${++repoCount}`);
  mkdirSync(dir);
  const env = testEnv(dir, { NIXSEAL_EDIT_DIR: editDir });
  const run = (argv: string[]): Promise<RunResult> => runNixseal(argv, { cwd: dir, env });
  const init = await run(["init"]);
  expect(init.code, init.stderr).toBe(0);
  return { dir, run };
}

function statePath(name: string): string {
  return join(stateDir, `${name}.nixops`);
}

const sha = (f: string): string => (existsSync(f) ? createHash("sha256").update(readFileSync(f)).digest("hex") : "-");
const fileHashes = (f: string): string[] => ["", "-wal", "-shm"].map((s) => sha(f + s));

function grepDisk(needle: string, dirs: string[]): string[] {
  const r = spawnSync("grep", ["-rlsF", "-D", "skip", "--binary-files=text", "--", needle, ...dirs], { encoding: "utf8", maxBuffer: 1 << 24 });
  return r.stdout.split("\n").filter(Boolean);
}

/** Three machines: web1 on a backend that records its host key, web2 and db1 ("none") that do not. */
function threeMachines(v: Record<string, string>): StateSpec["deployments"][number] {
  return {
    uuid: "8a3c9f10-2b1e-11ef-9a6e-0242ac120002",
    name: "prod",
    machines: [
      {
        name: "web1",
        type: "container",
        attrs: {
          privateIpv4: "10.233.1.2",
          "container.publicHostKey": keys.web1!.pub,
          keys: JSON.stringify({
            "db-password": { text: v.db, user: "postgres", group: "postgres", permissions: "0440", destDir: "/run/keys" },
            "session-secret": { text: v.session, user: "nginx", group: "nginx", permissions: "0400", destDir: "/run/keys" },
          }),
        },
      },
      {
        name: "web2",
        type: "none",
        attrs: {
          targetHost: "web2.example",
          targetPort: "2222",
          keys: JSON.stringify({
            "session-secret": { text: v.session, user: "nginx", group: "nginx", permissions: "0400", destDir: "/run/keys" },
            "api-token": { text: v.api, user: "app", group: "keys", permissions: "0640", destDir: "/var/lib/app/keys" },
            "tls.key": { keyFile: "/home/ops/secrets/tls.key", user: "nginx", group: "nginx", permissions: "0400", destDir: "/run/keys" },
          }),
        },
      },
      // NixOps before 1.3 stored a key as its text alone; no targetUser row means root.
      { name: "db1", type: "none", attrs: { targetHost: "192.0.2.7", targetUser: "deploy", keys: JSON.stringify({ "backup-passphrase": v.backup }) } },
      { name: "prod-keypair", type: "ec2-keypair", attrs: { "ec2.keyPairName": "charon-prod" } },
    ],
  };
}

describe("nixseal import nixops", () => {
  it("imports 3 machines and their stored keys (schema 3, keys only in the WAL), each value opens with its host's key", async () => {
    const v = { db: value("db"), session: value("session"), api: value("api"), backup: value("backup") };
    const file = statePath("three");
    writeNixopsState(file, { schema: 3, walOnly: true, deployments: [threeMachines(v)] });
    expect(readFileSync(file + "-wal").length).toBeGreaterThan(0);
    const original = fileHashes(file);
    const { dir, run } = await freshRepo();

    // Without --scan or --host-key the two hosts without a recorded key are named, one by one.
    const snap = snapshotTree(dir);
    const refused = await run(["import", "nixops", file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/host web2: NixOps recorded no host key for machine web2 \(none backend\); pin it with --scan \(reads it from root@web2\.example:2222\)/);
    expect(refused.stderr).toMatch(/host db1: NixOps recorded no host key/);
    expect(refused.stderr).not.toMatch(/host web1: NixOps recorded no host key/);
    expect(refused.stderr).toMatch(/2 hosts without a host key: db1, web2; nothing was changed/);
    expect(snapshotTree(dir)).toEqual(snap);

    const dry = await run(["import", "nixops", file, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^host web1 {2}root@10\.233\.1\.2 {2}key SHA256:\S+ from container\.publicHostKey$/m);
    expect(dry.stdout).toMatch(/^host web2 {2}root@web2\.example:2222 {2}no key recorded: needs --scan or --host-key$/m);
    expect(dry.stdout).toMatch(/^secret api-token {2}app:keys 0640 {2}hosts web2 {2}path \/var\/lib\/app\/keys\/api-token$/m);
    expect(dry.stdout).toMatch(/^skip web2:tls\.key {2}its value is read from \/home\/ops\/secrets\/tls\.key at deploy time$/m);
    expect(snapshotTree(dir)).toEqual(snap);

    const r = await run(["import", "nixops", file, "--host-key", `web2=${keys.web2!.pub}`, "--host-key", `db1=${keys.db1!.pub}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/imported 3 hosts and 4 secrets from deployment prod/);
    expect(r.stderr).toMatch(/not imported: key tls\.key of machine web2: its value is read from \/home\/ops\/secrets\/tls\.key/);
    expect(r.stderr).toMatch(/rotate them once the hosts run nixseal: api-token, backup-passphrase, db-password, session-secret/);

    const repo = JSON.parse(readFileSync(join(dir, "nixseal.json"), "utf8"));
    const strip = (s: Record<string, unknown>) => {
      const { updatedAt: _u, encryptedTo: _e, ...rest } = s;
      return rest;
    };
    expect(repo.hosts).toEqual({
      db1: { target: "deploy@192.0.2.7", hostKey: keys.db1!.pub },
      web1: { target: "root@10.233.1.2", hostKey: keys.web1!.pub },
      web2: { target: "root@web2.example:2222", hostKey: keys.web2!.pub },
    });
    expect(Object.fromEntries(Object.entries(repo.secrets as Record<string, Record<string, unknown>>).map(([n, s]) => [n, strip(s)]))).toEqual({
      "api-token": { hosts: ["web2"], owner: "app", group: "keys", mode: "0640", path: "/var/lib/app/keys/api-token", restartUnits: [], reloadUnits: [], version: 1 },
      "backup-passphrase": { hosts: ["db1"], owner: "root", group: "root", mode: "0600", restartUnits: [], reloadUnits: [], version: 1 },
      "db-password": { hosts: ["web1"], owner: "postgres", group: "postgres", mode: "0440", restartUnits: [], reloadUnits: [], version: 1 },
      "session-secret": { hosts: ["web1", "web2"], owner: "nginx", group: "nginx", mode: "0400", restartUnits: [], reloadUnits: [], version: 1 },
    });
    expect(readdirSync(join(dir, "secrets")).sort()).toEqual(["api-token.age", "backup-passphrase.age", "db-password.age", "session-secret.age"]);

    // The real age binary opens each blob with each of its hosts' private keys, and not with another's.
    const want: Record<string, [string, string[]]> = { "api-token": [v.api, ["web2"]], "backup-passphrase": [v.backup, ["db1"]], "db-password": [v.db, ["web1"]], "session-secret": [v.session, ["web1", "web2"]] };
    for (const [name, [plain, hosts]] of Object.entries(want)) {
      const blob = readFileSync(join(dir, "secrets", `${name}.age`));
      for (const h of ["web1", "web2", "db1"]) {
        const out = age(["-d", "-i", keys[h]!.path], blob);
        if (hosts.includes(h)) expect([out.status, out.stdout.toString()]).toEqual([0, plain]);
        else expect(out.status).not.toBe(0);
      }
    }
    // The repo is complete: a bundle builds for each host.
    for (const h of ["web1", "web2", "db1"]) expect((await run(["bundle", h, "--out", join(dir, `..`, `bundle-${repoCount}-${h}`)])).code).toBe(0);

    // The original was never opened (NixOps upgrades what it opens; a WAL would be checkpointed).
    expect(fileHashes(file)).toEqual(original);
    // No value in any output, nor on disk outside NixOps' own file; the private copy is gone.
    for (const plain of Object.values(v)) {
      for (const o of [refused, dry, r]) expect(o.stdout + o.stderr).not.toContain(plain);
      expect(grepDisk(plain, [work, "/tmp", "/var/tmp", editDir])).toEqual([]);
    }
    expect(readdirSync(editDir)).toEqual([]);
  });

  for (const schema of [1, 2] as const) {
    it(`reads schema version ${schema} (Machines/MachineAttrs${schema === 1 ? ", no SchemaVersion table" : ""})`, async () => {
      const v = { db: value("db"), session: value("session"), api: value("api"), backup: value("backup") };
      const file = statePath(`v${schema}`);
      writeNixopsState(file, { schema, deployments: [threeMachines(v)] });
      const { dir, run } = await freshRepo();
      const r = await run(["import", "nixops", file, "--host-key", `web2=${keys.web2!.pub}`, "--host-key", `db1=${keys.db1!.pub}`]);
      expect(r.code, r.stderr).toBe(0);
      const repo = JSON.parse(readFileSync(join(dir, "nixseal.json"), "utf8"));
      expect(Object.keys(repo.hosts).sort()).toEqual(["db1", "web1", "web2"]);
      expect(Object.keys(repo.secrets).sort()).toEqual(["api-token", "backup-passphrase", "db-password", "session-secret"]);
      const out = age(["-d", "-i", keys.db1!.path], readFileSync(join(dir, "secrets", "backup-passphrase.age")));
      expect(out.stdout.toString()).toBe(v.backup);
    });
  }

  describe("bad input: a clear error and nothing written", () => {
    const cases: Array<[string, () => Promise<string> | string, RegExp, string[]?]> = [
      ["a file that is not SQLite", () => {
        const f = statePath("text");
        writeFileSync(f, "not a database\n".repeat(100));
        return f;
      }, /text\.nixops: not an SQLite database/],
      ["an SQLite file that is not NixOps'", () => {
        const f = statePath("other");
        spawnSync("python3", ["-c", "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute('create table t(x)'); db.commit()", f]);
        return f;
      }, /other\.nixops: not a NixOps state file \(no Deployments table\)/],
      ["a schema version from a newer NixOps", () => {
        const f = statePath("v4");
        writeNixopsState(f, { schema: 3, deployments: [] });
        spawnSync("python3", ["-c", "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute('update SchemaVersion set version = 4'); db.commit()", f]);
        return f;
      }, /NixOps schema version 4 is not one this importer reads \(1, 2, 3\)/],
      ["a missing file", () => statePath("missing"), /missing\.nixops: no such file/],
      ["two deployments and no --deployment", () => {
        const f = statePath("two");
        writeNixopsState(f, { schema: 3, deployments: [threeMachines({ db: "a", session: "b", api: "c", backup: "d" }), { uuid: "0f0e", name: "staging", machines: [] }] });
        return f;
      }, /holds 2 deployments; say which one to import/],
      ["a key name that breaks nixseal's name rule", () => {
        const f = statePath("badname");
        writeNixopsState(f, { schema: 3, deployments: [{ uuid: "u1", machines: [{ name: "web1", type: "none", attrs: { targetHost: "h", keys: JSON.stringify({ "../etc/shadow": { text: "x" } }) } }] }] });
        return f;
      }, /key \.\.\/etc\/shadow of machine web1: "\.\.\/etc\/shadow" is not a valid secret name/],
      ["one key name with two values", () => {
        const f = statePath("conflict");
        const m = (name: string, text: string) => ({ name, type: "none", attrs: { targetHost: name, keys: JSON.stringify({ token: { text } }) } });
        writeNixopsState(f, { schema: 3, deployments: [{ uuid: "u1", machines: [m("a1", "one"), m("a2", "two")] }] });
        return f;
      }, /key token differs between machines a1 and a2/],
    ];
    for (const [what, make, message] of cases) {
      it(what, async () => {
        const file = await make();
        const { dir, run } = await freshRepo();
        const snap = snapshotTree(dir);
        const r = await run(["import", "nixops", file, "--host-key", `web2=${keys.web2!.pub}`]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).toMatch(/nixseal: hint: /);
        expect(snapshotTree(dir)).toEqual(snap);
        expect(readdirSync(editDir)).toEqual([]);
      });
    }

    it("a state file a running nixops holds locked for writing", async () => {
      const file = statePath("locked");
      writeNixopsState(file, { schema: 3, deployments: [threeMachines({ db: "a", session: "b", api: "c", backup: "d" })] });
      const { dir, run } = await freshRepo();
      const snap = snapshotTree(dir);
      const lock = await holdWriteLock(file);
      try {
        const r = await run(["import", "nixops", file, "--dry-run"]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`locked.nixops is locked for writing by process ${lock.pid} (a running nixops?)`);
        expect(r.stderr).toMatch(/hint: wait for that nixops command to finish/);
      } finally {
        await lock.release();
      }
      expect(snapshotTree(dir)).toEqual(snap);
      // Once the lock is gone the same file imports.
      expect((await run(["import", "nixops", file, "--dry-run"])).code).toBe(0);
    });
  });
});

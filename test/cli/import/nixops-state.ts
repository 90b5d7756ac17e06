// Builds NixOps state files the way NixOps does: Python's sqlite3 (what NixOps itself
// uses) running the DDL of nixops/statefile.py for schema versions 1-3, with
// journal_mode = wal as NixOps sets it. The spec (values included) goes to Python on
// stdin, never in argv.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

export interface MachineSpec {
  name: string;
  type: string;
  /** ResourceAttrs rows: name -> text value (JSON text for "keys"). */
  attrs: Record<string, string>;
}

export interface StateSpec {
  schema: 1 | 2 | 3;
  deployments: Array<{ uuid: string; name?: string; machines: MachineSpec[] }>;
  /** Written after a checkpoint, so they exist only in the -wal file of the result. */
  walOnly?: boolean;
}

// The DDL, verbatim from nixops/statefile.py (schema 3) and its history (1, 2: Machines).
const PY = String.raw`
import json, os, shutil, sqlite3, sys, tempfile
spec = json.load(sys.stdin)
out = sys.argv[1]
v = spec["schema"]
res, attrs = ("Resources", "ResourceAttrs") if v == 3 else ("Machines", "MachineAttrs")
work = tempfile.mkdtemp(dir=os.path.dirname(out))
path = os.path.join(work, "deployments.nixops")
db = sqlite3.connect(path, isolation_level=None)
db.execute("pragma journal_mode = wal")
db.execute("pragma wal_autocheckpoint = 0")
db.execute("pragma foreign_keys = 1")
c = db.cursor()
if v >= 2:
    c.execute("""create table if not exists SchemaVersion(
                 version integer not null
               );""")
    c.execute("insert into SchemaVersion(version) values (?)", (v,))
c.execute("""create table if not exists Deployments(
                 uuid text primary key
               );""")
c.execute("""create table if not exists DeploymentAttrs(
                 deployment text not null,
                 name text not null,
                 value text not null,
                 primary key(deployment, name),
                 foreign key(deployment) references Deployments(uuid) on delete cascade
               );""")
c.execute("""create table if not exists %s(
                 id integer primary key autoincrement,
                 deployment text not null,
                 name text not null,
                 type text not null,
                 foreign key(deployment) references Deployments(uuid) on delete cascade
               );""" % res)
c.execute("""create table if not exists %s(
                 machine integer not null,
                 name text not null,
                 value text not null,
                 primary key(machine, name),
                 foreign key(machine) references %s(id) on delete cascade
               );""" % (attrs, res))
later = []
for d in spec["deployments"]:
    c.execute("insert into Deployments(uuid) values (?)", (d["uuid"],))
    if "name" in d:
        c.execute("insert into DeploymentAttrs(deployment, name, value) values (?, ?, ?)", (d["uuid"], "name", d["name"]))
    for m in d["machines"]:
        c.execute("insert into %s(deployment, name, type) values (?, ?, ?)" % res, (d["uuid"], m["name"], m["type"]))
        mid = c.lastrowid
        for k, val in m["attrs"].items():
            row = (mid, k, val)
            if spec.get("walOnly") and k == "keys":
                later.append(row)
            else:
                c.execute("insert into %s(machine, name, value) values (?, ?, ?)" % attrs, row)
if later:
    db.execute("pragma wal_checkpoint(TRUNCATE)")
    for row in later:
        c.execute("insert into %s(machine, name, value) values (?, ?, ?)" % attrs, row)
# Copy while the connection is open: the copy keeps its -wal, as a crashed or running
# nixops leaves it.
for suffix in ["", "-wal", "-shm"]:
    if os.path.exists(path + suffix):
        shutil.copyfile(path + suffix, out + suffix)
db.close()
shutil.rmtree(work)
`;

/** Writes a state file at `out` (plus out-wal/out-shm) with Python's sqlite3. */
export function writeNixopsState(out: string, spec: StateSpec): void {
  const r = spawnSync("python3", ["-c", PY, out], { input: JSON.stringify(spec), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python3 state builder failed: ${r.stderr}`);
}

/**
 * Holds a write transaction open on a state file (BEGIN IMMEDIATE: SQLite's write lock,
 * as a running nixops deploy holds it) until release().
 */
export async function holdWriteLock(file: string): Promise<{ pid: number; release: () => Promise<void> }> {
  const child: ChildProcess = spawn("python3", ["-c", `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("begin immediate")
db.execute("insert into DeploymentAttrs(deployment, name, value) select uuid, 'lock-test', 'x' from Deployments limit 1")
print("locked", flush=True)
sys.stdin.read()
db.execute("rollback")
`, file], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && resolve());
    child.once("exit", (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    release: () => new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.stdin!.end();
    }),
  };
}

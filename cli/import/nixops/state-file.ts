// Reads NixOps' SQLite state (deployments.nixops) without ever opening the original:
// NixOps upgrades the schema of whatever it opens, and a reader could trip over a
// running deploy. The file and its -wal/-shm/-journal are copied into a private
// directory on a tmpfs (the state holds deployment.keys in plaintext), the copy is
// opened with SQLite in exclusive locking mode (which reads the WAL without shared
// memory), and the directory is removed afterwards.
//
// Schema versions (nixops/statefile.py): 1 has no SchemaVersion table; 2 adds it;
// 3 renames Machines/MachineAttrs to Resources/ResourceAttrs. Every machine attribute
// is one ResourceAttrs row (name, value as text; JSON for structured ones such as
// "keys"); NixOps deletes the row of an attribute set to its default.
import { copyFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { NixsealError } from "../../../core/index.js";
import { makePrivateTmpfsDir } from "../../editor.js";
import type { CliIo } from "../../io.js";
import { sqliteWriters } from "./locks.js";

const KNOWN_SCHEMAS = [1, 2, 3] as const;
type SchemaVersion = (typeof KNOWN_SCHEMAS)[number];

/** One row of Resources (Machines before schema 3) with its attributes. */
export interface NixopsResource {
  id: number;
  name: string;
  type: string;
  attrs: Map<string, string>;
}

export interface NixopsDeployment {
  uuid: string;
  /** DeploymentAttrs "name" (nixops create -d NAME), if any. */
  name?: string;
  resources: NixopsResource[];
}

export interface NixopsState {
  schemaVersion: SchemaVersion;
  deployments: NixopsDeployment[];
}

/** The parts of node-sqlite3-wasm used here (a CommonJS module, loaded only by this command). */
interface Db {
  exec(sql: string): void;
  all(sql: string, values?: unknown[]): Array<Record<string, unknown>>;
  close(): void;
}

const COMPANIONS = ["-wal", "-shm", "-journal"];

function badState(file: string, why: string, hints: string[]): NixsealError {
  return new NixsealError("NIXSEAL_ERR_NIXOPS_STATE", `${file}: ${why}`, { hints });
}

async function fingerprint(file: string): Promise<string> {
  const parts: string[] = [];
  for (const suffix of ["", ...COMPANIONS]) {
    try {
      const st = await stat(file + suffix);
      parts.push(`${suffix}:${st.size}:${st.mtimeMs}:${st.ino}`);
    } catch {
      parts.push(`${suffix}:-`);
    }
  }
  return parts.join(" ");
}

async function refuseIfWriting(file: string): Promise<void> {
  const writers = await sqliteWriters(file);
  if (writers.length === 0) return;
  const pids = [...new Set(writers.map((w) => w.pid))].join(", ");
  throw new NixsealError("NIXSEAL_ERR_NIXOPS_LOCKED", `${file} is locked for writing by process ${pids} (a running nixops?)`, {
    hints: ["wait for that nixops command to finish (or stop it), then run the import again; nothing was changed"],
  });
}

/** Copies the state file and its companions into dir; retries when it changed meanwhile. */
async function copyConsistent(file: string, dir: string): Promise<string> {
  const copy = join(dir, basename(file));
  for (let attempt = 0; attempt < 3; attempt++) {
    await refuseIfWriting(file);
    const before = await fingerprint(file);
    try {
      await copyFile(file, copy);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw badState(file, code === "ENOENT" ? "no such file" : `cannot read it: ${code ?? (err as Error).message}`, [
        "give the path of NixOps' state file, usually ~/.nixops/deployments.nixops (or $NIXOPS_STATE)",
      ]);
    }
    for (const suffix of COMPANIONS) await copyFile(file + suffix, copy + suffix).catch(() => {});
    await refuseIfWriting(file);
    if ((await fingerprint(file)) === before) return copy;
  }
  throw new NixsealError("NIXSEAL_ERR_NIXOPS_LOCKED", `${file} kept changing while it was read (a running nixops?)`, {
    hints: ["wait for nixops to finish, then run the import again; nothing was changed"],
  });
}

function openDb(copy: string, file: string): Db {
  const { Database } = createRequire(import.meta.url)("node-sqlite3-wasm") as { Database: new (f: string) => Db };
  let db: Db | undefined;
  try {
    db = new Database(copy);
    // No shared memory needed: the WAL is read into this connection's own index.
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.all("select count(*) from sqlite_master");
    return db;
  } catch (err) {
    db?.close();
    throw badState(file, `not an SQLite database (${(err as Error).message})`, [
      "give NixOps' state file, usually ~/.nixops/deployments.nixops",
    ]);
  }
}

function tableNames(db: Db): Set<string> {
  return new Set(db.all("select name from sqlite_master where type = 'table'").map((r) => String(r.name)));
}

function detectSchema(db: Db, file: string): { version: SchemaVersion; resources: string; attrs: string } {
  const tables = tableNames(db);
  let version: number;
  if (tables.has("SchemaVersion")) {
    const rows = db.all("select version from SchemaVersion");
    version = Number(rows[0]?.version);
    if (rows.length !== 1 || !Number.isInteger(version)) throw badState(file, "its SchemaVersion table does not hold one version number", ["is this a NixOps state file?"]);
  } else if (tables.has("Deployments")) {
    version = 1;
  } else {
    throw badState(file, "not a NixOps state file (no Deployments table)", ["give NixOps' state file, usually ~/.nixops/deployments.nixops"]);
  }
  if (!(KNOWN_SCHEMAS as readonly number[]).includes(version)) {
    throw badState(file, `NixOps schema version ${version} is not one this importer reads (${KNOWN_SCHEMAS.join(", ")})`, [
      version > 3 ? "it was written by a newer NixOps: export the keys with that NixOps, or report the new schema" : "is this a NixOps state file?",
    ]);
  }
  const [resources, attrs] = version === 3 ? ["Resources", "ResourceAttrs"] : ["Machines", "MachineAttrs"];
  for (const t of ["Deployments", "DeploymentAttrs", resources, attrs]) {
    if (!tables.has(t)) throw badState(file, `schema version ${version} should have a ${t} table, and it has none`, ["the file is damaged or not from NixOps"]);
  }
  return { version: version as SchemaVersion, resources, attrs };
}

function readAll(db: Db, file: string): NixopsState {
  const { version, resources, attrs } = detectSchema(db, file);
  try {
    const names = new Map(db.all("select deployment, value from DeploymentAttrs where name = 'name'").map((r) => [String(r.deployment), String(r.value)]));
    const byDeployment = new Map<string, NixopsResource[]>();
    const byId = new Map<number, NixopsResource>();
    for (const r of db.all(`select id, deployment, name, type from ${resources} order by id`)) {
      const res: NixopsResource = { id: Number(r.id), name: String(r.name), type: String(r.type), attrs: new Map() };
      byId.set(res.id, res);
      const list = byDeployment.get(String(r.deployment)) ?? [];
      list.push(res);
      byDeployment.set(String(r.deployment), list);
    }
    for (const r of db.all(`select machine, name, value from ${attrs}`)) byId.get(Number(r.machine))?.attrs.set(String(r.name), String(r.value));
    const deployments = db.all("select uuid from Deployments order by uuid").map((r) => {
      const uuid = String(r.uuid);
      const name = names.get(uuid);
      return { uuid, ...(name !== undefined ? { name } : {}), resources: byDeployment.get(uuid) ?? [] };
    });
    return { schemaVersion: version, deployments };
  } catch (err) {
    if (err instanceof NixsealError) throw err;
    throw badState(file, `its tables do not have NixOps' columns (${(err as Error).message})`, ["the file is damaged or not from NixOps"]);
  }
}

/**
 * Reads a NixOps state file through a private copy on a tmpfs.
 *
 * @param file - deployments.nixops (never opened itself; its -wal is read too)
 * @returns every deployment with its resources and their attributes
 * @throws NixsealError NIXSEAL_ERR_NIXOPS_STATE (missing, not SQLite, not NixOps, unknown
 * schema version), NIXSEAL_ERR_NIXOPS_LOCKED (a writer holds it), NIXSEAL_ERR_NO_TMPFS
 */
export async function readNixopsState(io: CliIo, file: string): Promise<NixopsState> {
  const { dir, cleanup } = await makePrivateTmpfsDir(io);
  try {
    const copy = await copyConsistent(file, dir);
    const db = openDb(copy, file);
    try {
      return readAll(db, file);
    } finally {
      db.close();
    }
  } finally {
    cleanup();
  }
}

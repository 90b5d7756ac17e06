// User and group names -> numeric ids, read from /etc/passwd and /etc/group once per
// operation (one read each instead of a getent process per secret: this is the boot path).
// Names that only NSS knows (LDAP, systemd-userdb) fall back to one `getent` call each.
import { readFileSync } from "node:fs";
import { isPosixId } from "../../core/schema/limits.js";

export interface Accounts {
  /** uid for a user name or numeric id; undefined when the user does not exist. */
  uid(user: string): number | undefined;
  /** gid for a group name or numeric id; undefined when the group does not exist. */
  gid(group: string): number | undefined;
  /** The primary gid of a user (name or numeric id); undefined when the user does not exist. */
  primaryGid(user: string): number | undefined;
}

/** name -> the id in field 3 (or, with field 4, the passwd entry's primary gid). */
function readDb(file: string, field = 2): Map<string, number> {
  const ids = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return ids;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length > field && f[0] && isPosixId(f[field]!)) ids.set(f[0], Number(f[field]));
  }
  return ids;
}

function getent(db: "passwd" | "group", name: string, field = 2): number | undefined {
  // loaded here, not at the top: child_process costs the boot path a few ms
  const { spawnSync } = process.getBuiltinModule("node:child_process");
  const r = spawnSync("getent", [db, name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  if (r.status !== 0) return undefined;
  const id = r.stdout.split(":")[field];
  return id !== undefined && isPosixId(id) ? Number(id) : undefined;
}

/**
 * Looks names up in `${root}/etc/passwd` and `${root}/etc/group` (numeric ids are taken
 * as they are, as chown does).
 *
 * @param root - filesystem root, "" for the real one
 */
export function loadAccounts(root = ""): Accounts {
  const users = readDb(`${root}/etc/passwd`);
  const groups = readDb(`${root}/etc/group`);
  const lookup = (db: "passwd" | "group", known: Map<string, number>, name: string): number | undefined => {
    if (/^[0-9]+$/.test(name)) return isPosixId(name) ? Number(name) : undefined;
    let id = known.get(name);
    if (id === undefined) {
      id = (root === "" ? getent(db, name) : undefined) ?? -1;
      known.set(name, id); // -1: looked up once, does not exist
    }
    return id === -1 ? undefined : id;
  };
  const primaries = readDb(`${root}/etc/passwd`, 3);
  const primaryGid = (user: string): number | undefined => {
    // a numeric owner: the passwd entry with that uid
    const name = /^[0-9]+$/.test(user) ? [...users].find(([, uid]) => uid === Number(user))?.[0] : user;
    const gid = name === undefined ? undefined : primaries.get(name);
    return gid ?? (root === "" ? getent("passwd", user, 3) : undefined);
  };
  return {
    uid: (user) => lookup("passwd", users, user),
    gid: (group) => lookup("group", groups, group),
    primaryGid,
  };
}

// The owner's primary group, when a secret names no group: read from the passwd entry
// (by name or by numeric uid) of an image root, the way the agent reads the host's.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadAccounts } from "../../host-agent/plaintext/accounts.js";
import { resolveOwner } from "../../host-agent/plaintext/materialize.js";

const root = mkdtempSync(join(tmpdir(), "nixseal-accounts-"));
mkdirSync(join(root, "etc"));
writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\npostgres:x:114:121::/var/lib/postgresql:/bin/sh\n");
writeFileSync(join(root, "etc/group"), "root:x:0:\npostgres:x:121:\nssl-cert:x:110:postgres\n");
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("a secret without a group gets its owner's primary group", () => {
  const accounts = loadAccounts(root);
  it("by owner name and by numeric owner", () => {
    expect(resolveOwner({ name: "db", owner: "postgres" }, accounts)).toEqual({ uid: 114, gid: 121 });
    expect(resolveOwner({ name: "db", owner: "114" }, accounts)).toEqual({ uid: 114, gid: 121 });
    expect(resolveOwner({ name: "db", owner: "postgres", group: "ssl-cert" }, accounts)).toEqual({ uid: 114, gid: 110 });
  });
  it("an owner the host does not have is the error, not a group", () => {
    expect(() => resolveOwner({ name: "db", owner: "redis" }, accounts)).toThrow(/user 'redis' does not exist/);
    expect(() => resolveOwner({ name: "db", owner: "999" }, accounts)).toThrow(/user '999' does not exist/);
  });
});

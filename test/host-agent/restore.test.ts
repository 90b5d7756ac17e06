import { lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generationDir } from "../../host-agent/generations/store.js";
import { importBundle } from "../../host-agent/generations/operations.js";
import { restore } from "../../host-agent/boot/restore.js";
import { collectStatus, formatStatus } from "../../host-agent/status/host-status.js";
import { ensureUser, grepTree, makeEnv, writeBundle, type AgentEnv } from "./support.js";

const removers: Array<() => void> = [];
beforeAll(() => {
  removers.push(ensureUser("nxs-alice"), ensureUser("nxs-bob"));
});
afterAll(() => removers.forEach((r) => r()));

let env: AgentEnv;
afterEach(() => env?.cleanup());

function idOf(db: "/etc/passwd" | "/etc/group", name: string): number {
  const line = readFileSync(db, "utf8").split("\n").find((l) => l.startsWith(`${name}:`))!;
  return Number(line.split(":")[2]);
}
const uidOf = (name: string) => idOf("/etc/passwd", name);
const gidOf = (name: string) => idOf("/etc/group", name);

/** Simulates a reboot: the tmpfs content is gone, the disk stays. */
function wipeRun(env: AgentEnv): void {
  for (const name of ["current", ...["1", "2", "3", "1.1"]]) rmSync(join(env.config.runDir, name), { recursive: true, force: true });
  rmSync(env.config.keysDir, { recursive: true, force: true });
}

describe("nixseal-agent restore", () => {
  it("restores every secret with its owner, group and mode behind /run/keys after a reboot", async () => {
    env = makeEnv();
    const bundle = await writeBundle(join(env.root, "upload"), env.hostPub, [
      { name: "db-password", value: "s3cret-db-value", owner: "nxs-alice", group: "nxs-alice", mode: "0400" },
      { name: "api-token", value: "s3cret-api-value", owner: "nxs-bob", group: "nxs-alice", mode: "0440" },
      { name: "tls.key", value: "s3cret-tls-value", owner: "root", group: "nxs-bob", mode: "0640", path: join(env.root, "etc", "tls", "server.key") },
    ]);
    await importBundle(env.config, bundle);
    wipeRun(env);

    const r = await restore(env.config);
    expect(r.generation).toBe(1);
    expect(r.outcome!.results.every((x) => x.ok)).toBe(true);
    expect(readlinkSync(env.config.keysDir)).toBe(join(env.config.runDir, "current"));
    const db = statSync(join(env.config.keysDir, "db-password"));
    expect([db.uid, db.gid, db.mode & 0o7777]).toEqual([uidOf("nxs-alice"), gidOf("nxs-alice"), 0o400]);
    const api = statSync(join(env.config.keysDir, "api-token"));
    expect([api.uid, api.mode & 0o7777]).toEqual([uidOf("nxs-bob"), 0o440]);
    expect(readFileSync(join(env.config.keysDir, "api-token"), "utf8")).toBe("s3cret-api-value");
    expect(readFileSync(join(env.root, "etc", "tls", "server.key"), "utf8")).toBe("s3cret-tls-value");
    expect(statSync(join(env.config.runDir, "current")).mode & 0o777).toBe(0o751);
    // the disk holds ciphertext only
    for (const v of ["s3cret-db-value", "s3cret-api-value", "s3cret-tls-value"]) expect(grepTree(env.config.stateDir, v)).toEqual([]);
  });

  it("skips and reports a secret whose owner does not exist; the others are restored", async () => {
    env = makeEnv();
    const bundle = await writeBundle(join(env.root, "upload"), env.hostPub, [
      { name: "good", value: "good-value", owner: "nxs-alice" },
      { name: "orphan", value: "orphan-value", owner: "nxs-nobody-here" },
    ]);
    // stage refuses it (owners must exist)...
    await expect(importBundle(env.config, bundle)).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_UNKNOWN_OWNER" });
    // ...so the user disappears after the import instead
    const remove = ensureUser("nxs-gone");
    const bundle2 = await writeBundle(join(env.root, "upload2"), env.hostPub, [
      { name: "good", value: "good-value", owner: "nxs-alice" },
      { name: "orphan", value: "orphan-value", owner: "nxs-gone" },
    ]);
    await importBundle(env.config, bundle2);
    remove();
    wipeRun(env);
    const r = await restore(env.config);
    const byName = Object.fromEntries(r.outcome!.results.map((x) => [x.name, x]));
    expect(byName.good!.ok).toBe(true);
    expect(byName.orphan).toMatchObject({ ok: false, code: "NIXSEAL_ERR_AGENT_UNKNOWN_OWNER" });
    expect(byName.orphan!.error).toContain("user 'nxs-gone' does not exist");
    expect(readFileSync(join(env.config.keysDir, "good"), "utf8")).toBe("good-value");
    expect(() => lstatSync(join(env.config.keysDir, "orphan"))).toThrow(/ENOENT/);
    const status = await collectStatus(env.config);
    expect(status.secrets.find((s) => s.name === "orphan")).toMatchObject({ ok: false, present: false, code: "NIXSEAL_ERR_AGENT_UNKNOWN_OWNER" });
    expect(formatStatus(status)).toMatch(/orphan .*FAILED[\s\S]*user 'nxs-gone' does not exist/);
  });

  it("skips a blob damaged at rest and restores the rest", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "upload"), env.hostPub, [
      { name: "a", value: "value-a" },
      { name: "b", value: "value-b" },
    ]));
    const blob = join(generationDir(env.config.stateDir, 1), "b.age");
    const bytes = readFileSync(blob);
    bytes[bytes.length - 3]! ^= 1;
    writeFileSync(blob, bytes);
    wipeRun(env);
    const r = await restore(env.config);
    expect(r.outcome!.results.find((x) => x.name === "b")).toMatchObject({ ok: false, code: "NIXSEAL_ERR_AGENT_CHECKSUM" });
    expect(readFileSync(join(env.config.keysDir, "a"), "utf8")).toBe("value-a");
  });

  it("falls back to the previous generation when the current one is damaged", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "u1"), env.hostPub, [{ name: "a", value: "old-a" }]));
    await importBundle(env.config, await writeBundle(join(env.root, "u2"), env.hostPub, [{ name: "a", value: "new-a" }]));
    writeFileSync(join(generationDir(env.config.stateDir, 2), "manifest.json"), "{ not json");
    wipeRun(env);
    const r = await restore(env.config);
    expect(r.generation).toBe(1);
    expect(r.fellBackFrom).toMatchObject({ generation: 2 });
    expect(readFileSync(join(env.config.keysDir, "a"), "utf8")).toBe("old-a");
  });

  it("keeps NixOS's /run/keys directory and adds per-name links through current", async () => {
    env = makeEnv({ keysDir: "directory" });
    writeFileSync(join(env.config.keysDir, "nixops-key"), "not ours");
    await importBundle(env.config, await writeBundle(join(env.root, "u1"), env.hostPub, [{ name: "a", value: "value-a" }, { name: "b", value: "value-b" }]));
    expect(lstatSync(env.config.keysDir).isDirectory()).toBe(true);
    expect(readlinkSync(join(env.config.keysDir, "a"))).toBe(join(env.config.runDir, "current", "a"));
    await importBundle(env.config, await writeBundle(join(env.root, "u2"), env.hostPub, [{ name: "a", value: "value-a2" }]));
    expect(readFileSync(join(env.config.keysDir, "a"), "utf8")).toBe("value-a2");
    expect(() => lstatSync(join(env.config.keysDir, "b"))).toThrow(/ENOENT/);
    expect(readFileSync(join(env.config.keysDir, "nixops-key"), "utf8")).toBe("not ours");
  });

  it("restores twice in a row into a fresh directory and keeps only the live one", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "u1"), env.hostPub, [{ name: "a", value: "value-a" }]));
    const first = realpathSync(join(env.config.runDir, "current"));
    await restore(env.config);
    const second = realpathSync(join(env.config.runDir, "current"));
    expect(second).not.toBe(first);
    expect(() => lstatSync(first)).toThrow(/ENOENT/);
    expect(readFileSync(join(env.config.keysDir, "a"), "utf8")).toBe("value-a");
  });

  it("refuses a run dir that is not a memory filesystem", async () => {
    env = makeEnv();
    const disk = join(env.root, "disk-run");
    mkdirSync(disk);
    await expect(restore({ ...env.config, runDir: disk })).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_NOT_MEMORY_FS" });
  });

  it("refuses a planted symlink where the next generation goes and writes nothing through it", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "u1"), env.hostPub, [{ name: "a", value: "old-a" }]));
    const victim = join(env.root, "victim");
    mkdirSync(victim);
    symlinkSync(victim, join(env.config.runDir, "2"));
    await expect(importBundle(env.config, await writeBundle(join(env.root, "u2"), env.hostPub, [{ name: "a", value: "planted-a" }]))).rejects.toMatchObject({
      code: "NIXSEAL_ERR_AGENT_PLANTED_SYMLINK",
    });
    expect(grepTree(victim, "planted-a")).toEqual([]);
    expect(readFileSync(join(env.config.keysDir, "a"), "utf8")).toBe("old-a");
  });
});

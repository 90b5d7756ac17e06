// The agent against what the running system was built for (/etc/nixseal/secrets.json,
// the generated file on NixOS): activation of a bundle that disagrees is refused and
// changes nothing; a deploy that ships the matching config passes its digest; a
// rollback is not checked; the boot restore restores and reports. Also the name rule
// at stage, and the secrets for users (restore --for-users).
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { appliedDigest, formatHostSecrets, makeHostSecrets, type HostSecret, type HostTemplate } from "../../core/index.js";
import { restoreForUsers } from "../../host-agent/plaintext/for-users.js";
import { listGenerations } from "../../host-agent/generations/store.js";
import { activate, importBundle, rollback, stage } from "../../host-agent/generations/operations.js";
import { restore } from "../../host-agent/boot/restore.js";
import { makeEnv, writeBundle, type AgentEnv, type TestSecret, type TestTemplate } from "./support.js";

let env: AgentEnv;
afterEach(() => env?.cleanup());

const live = (name: string) => readFileSync(join(env.config.keysDir, name), "utf8");
const meta = (s: Partial<HostSecret> = {}): HostSecret => ({ owner: "root", group: "root", mode: "0400", path: null, restartUnits: [], reloadUnits: [], neededBy: [], neededForUsers: false, ...s });

/** Writes the running system's secrets file (what the NixOS module puts in /etc/nixseal). */
function systemBuiltFor(secrets: Record<string, HostSecret>, templates: Record<string, HostTemplate> = {}): void {
  mkdirSync(dirname(env.config.systemSecrets), { recursive: true });
  writeFileSync(env.config.systemSecrets, formatHostSecrets(makeHostSecrets("testhost", secrets, templates)));
}
const bundle = (label: string, secrets: TestSecret[], templates: TestTemplate[] = []) => writeBundle(join(env.root, label), env.hostPub, secrets, "testhost", templates);

describe("activation against the running system", () => {
  it("a plain host (no system file) activates what it is given", async () => {
    env = makeEnv();
    await importBundle(env.config, await bundle("b1", [{ name: "a", value: "one" }]));
    expect(live("a")).toBe("one");
  });

  it("refuses a bundle with a secret the system does not declare, or different metadata; nothing changes", async () => {
    env = makeEnv();
    systemBuiltFor({ a: meta() });
    await importBundle(env.config, await bundle("b1", [{ name: "a", value: "one" }]));
    const runBefore = readlinkSync(join(env.config.runDir, "current"));
    await expect(importBundle(env.config, await bundle("b2", [{ name: "a", value: "two" }, { name: "b", value: "new" }]))).rejects.toMatchObject({
      code: "NIXSEAL_ERR_AGENT_SYSTEM_DRIFT",
      message: expect.stringContaining("not in the system: b"),
      hints: [expect.stringContaining("nixseal deploy HOST (not --secrets-only)"), expect.stringContaining("nixseal host sync HOST")],
    });
    const staged = await stage(env.config, await bundle("b3", [{ name: "a", value: "three", owner: "nobody" }]));
    await expect(activate(env.config, staged.generation)).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_SYSTEM_DRIFT", message: expect.stringContaining("a: owner differ") });
    expect(live("a")).toBe("one");
    expect(readlinkSync(join(env.config.runDir, "current"))).toBe(runBefore);
    expect(readlinkSync(join(env.config.stateDir, "current"))).toBe("generations/1");
    // A rotated value keeps the metadata: no rebuild needed, activation goes through.
    await importBundle(env.config, await bundle("b4", [{ name: "a", value: "rotated" }]));
    expect(live("a")).toBe("rotated");
  });

  it("passes when the caller ships the system built for the bundle (deploy with its config)", async () => {
    env = makeEnv();
    systemBuiltFor({ a: meta() });
    const dir = await bundle("b1", [{ name: "a", value: "one" }, { name: "b", value: "two" }]);
    const staged = await stage(env.config, dir);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    await expect(activate(env.config, staged.generation, "activate", appliedDigest([{ name: "x", owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [] }]))).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_SYSTEM_DRIFT" });
    await activate(env.config, staged.generation, "activate", appliedDigest(manifest.secrets));
    expect(live("b")).toBe("two");
    // ...and its digest is the generated file's for the same secrets
    expect(makeHostSecrets("testhost", { a: meta(), b: meta() }).digest).toBe(appliedDigest(manifest.secrets));
  });

  it("a rollback returns to what ran before without the check; the boot restore restores and reports drift", async () => {
    env = makeEnv();
    await importBundle(env.config, await bundle("b1", [{ name: "a", value: "one" }]));
    await importBundle(env.config, await bundle("b2", [{ name: "a", value: "two" }, { name: "b", value: "bee" }]));
    systemBuiltFor({ a: meta(), b: meta() });
    await rollback(env.config);
    expect(live("a")).toBe("one");
    const r = await restore(env.config);
    expect(r.drift).toEqual(["missing from the bundle: b"]);
    expect(r.outcome!.warnings.join("\n")).toContain("does not match");
    expect(live("a")).toBe("one");
  });
});

describe("templates against the running system", () => {
  const envFile: TestTemplate = { name: "app.env", text: 'TOKEN={{ secret "a" }}\n', uses: ["a"], restartUnits: ["app.service"] };
  const tmeta = (s: Partial<HostTemplate> = {}): HostTemplate => ({ ...meta({ restartUnits: ["app.service"] }), ...s, neededForUsers: false });

  it("a template counts like a secret: one the system does not list, or lists with other metadata, is refused; the listed one renders", async () => {
    env = makeEnv();
    systemBuiltFor({ a: meta() });
    await importBundle(env.config, await bundle("b1", [{ name: "a", value: "one" }]));
    await expect(importBundle(env.config, await bundle("b2", [{ name: "a", value: "one" }], [envFile]))).rejects.toMatchObject({
      code: "NIXSEAL_ERR_AGENT_SYSTEM_DRIFT",
      message: expect.stringContaining("not in the system: app.env"),
    });
    expect(() => live("app.env")).toThrow();
    systemBuiltFor({ a: meta() }, { "app.env": tmeta({ owner: "nobody" }) });
    await expect(importBundle(env.config, await bundle("b3", [{ name: "a", value: "one" }], [envFile]))).rejects.toMatchObject({ message: expect.stringContaining("app.env: owner differ") });
    systemBuiltFor({ a: meta() }, { "app.env": tmeta() });
    await importBundle(env.config, await bundle("b4", [{ name: "a", value: "two" }], [envFile]));
    expect(live("app.env")).toBe("TOKEN=two\n");
    // The system lists a template the bundle lacks: the boot restore restores and reports it.
    systemBuiltFor({ a: meta() }, { "app.env": tmeta(), "other.conf": tmeta() });
    const r = await restore(env.config);
    expect(r.drift).toEqual(["missing from the bundle: other.conf"]);
    expect(live("app.env")).toBe("TOKEN=two\n");
  });

  it("a deploy that ships the system built for the bundle passes its digest, templates included", async () => {
    env = makeEnv();
    systemBuiltFor({ a: meta() });
    const dir = await bundle("b1", [{ name: "a", value: "one" }], [envFile]);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const staged = await stage(env.config, dir);
    // Without the template the digest is another one: refused.
    await expect(activate(env.config, staged.generation, "activate", appliedDigest(manifest.secrets))).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_SYSTEM_DRIFT" });
    const next = makeHostSecrets("testhost", { a: meta() }, { "app.env": tmeta() }).digest;
    await activate(env.config, staged.generation, "activate", next);
    expect(live("app.env")).toBe("TOKEN=one\n");
  });
});

describe("names at stage", () => {
  it("refuses a name the rule forbids and names that differ only in case, storing nothing", async () => {
    env = makeEnv();
    await expect(stage(env.config, await bundle("b1", [{ name: "a+b", value: "x" }]))).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_BAD_NAME", hints: [expect.stringContaining("nixseal secrets rename")] });
    await expect(stage(env.config, await bundle("b2", [{ name: "db", value: "x" }, { name: "DB", value: "y" }]))).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_BAD_NAME", message: expect.stringContaining("differ only in case") });
    expect(listGenerations(env.config.stateDir)).toEqual([]);
  });
});

describe("secrets for users", () => {
  it("installs link them root-only into forUsersDir; restore --for-users writes them before anything else", async () => {
    env = makeEnv();
    await importBundle(env.config, await bundle("b1", [{ name: "root-pw", value: "$6$hash-one", neededForUsers: true }, { name: "app", value: "app" }]));
    const file = join(env.config.forUsersDir, "root-pw");
    expect(readFileSync(file, "utf8")).toBe("$6$hash-one");
    expect(statSync(file).mode & 0o777).toBe(0o400);
    expect(statSync(file).uid).toBe(0);
    expect(statSync(env.config.forUsersDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(env.config.forUsersDir)).toEqual(["root-pw"]);
    // A boot: the memory filesystem is empty again, then the early restore runs alone.
    for (const e of readdirSync(env.config.runDir)) rmSync(join(env.config.runDir, e), { recursive: true, force: true });
    const r = await restoreForUsers(env.config);
    expect(r).toEqual({ generation: 1, names: ["root-pw"] });
    expect(readFileSync(file, "utf8")).toBe("$6$hash-one");
    expect(readdirSync(env.config.runDir).filter((n) => /^[0-9]/.test(n))).toEqual([]); // nothing else restored yet
    // No longer needed for users: the next install removes it from there.
    await importBundle(env.config, await bundle("b2", [{ name: "root-pw", value: "$6$hash-two" }, { name: "app", value: "app" }]));
    expect(readdirSync(env.config.forUsersDir)).toEqual([]);
  });
});

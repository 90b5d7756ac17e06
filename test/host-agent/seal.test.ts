// The sealed generation (host-agent/generations/seal.ts): written when a generation is
// stored, an age file to the host's own key that the real `age` opens; the boot restore
// takes every plaintext from it (proved with per-secret files the restoring keys cannot
// open); a seal that does not fit or does not open is ignored with a warning and the
// restore gives the same result secret by secret; a damaged per-secret file is still
// reported and skipped; nothing is ever plaintext on disk.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { restore } from "../../host-agent/boot/restore.js";
import { importBundle, stage } from "../../host-agent/generations/operations.js";
import { packSeal, unpackSeal } from "../../host-agent/generations/seal.js";
import { GENERATION_SEAL } from "../../host-agent/generations/bundle-dir.js";
import { generationDir } from "../../host-agent/generations/store.js";
import { encrypt, parseRecipient } from "../../core/index.js";
import { grepTree, makeEnv, writeBundle, type AgentEnv } from "./support.js";

const AGENT = join(import.meta.dirname, "..", "..", "dist", "host-agent", "bin.cjs");
let env: AgentEnv;
afterEach(() => env?.cleanup());

const secrets = Array.from({ length: 6 }, (_, k) => ({ name: `s${k}`, value: `seal-value-${k}-${"x".repeat(k * 40)}`, mode: k % 2 ? "0440" : "0400" }));

/** What /run/keys shows: name -> value. */
function live(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of secrets) {
    try {
      out[s.name] = readFileSync(join(env.config.runDir, "current", s.name), "utf8");
    } catch {
      // not restored
    }
  }
  return out;
}
const all = () => Object.fromEntries(secrets.map((s) => [s.name, s.value]));
const bootClean = () => rmSync(join(env.config.runDir, "current"), { force: true });

/** Bundles encrypted to the host's RSA key only: its seal (to the first key, ed25519) is then the only way ed25519 alone restores them. */
function rsaOnly(): string {
  const rsa = join(env.root, "ssh_host_rsa_key");
  execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa]);
  return readFileSync(`${rsa}.pub`, "utf8");
}

/** A reboot with a smaller memory filesystem: it comes back empty, the disk stays. */
function rebootWithTmpfs(size: string): void {
  execFileSync("umount", [env.config.runDir]);
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0751,noswap,nodev,nosuid,noexec`, "nixseal-test", env.config.runDir]);
  rmSync(env.config.keysDir, { force: true });
}
const keyOf = (name: string) => readFileSync(join(env.config.keysDir, name), "utf8");

describe("the sealed generation", () => {
  it("is stored with the generation, 0600, an age file to the host's key that age opens; no value on disk", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "b"), env.hostPub, secrets));
    const file = join(generationDir(env.config.stateDir, 1), GENERATION_SEAL);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const opened = execFileSync("age", ["-d", "-i", env.hostKey, file]);
    const manifest = JSON.parse(readFileSync(join(generationDir(env.config.stateDir, 1), "manifest.json"), "utf8"));
    const plaintexts = unpackSeal(opened, manifest);
    expect(Array.isArray(plaintexts)).toBe(true);
    expect((plaintexts as Uint8Array[]).map((p) => Buffer.from(p).toString("utf8"))).toEqual(secrets.map((s) => s.value));
    for (const s of secrets) expect(grepTree(env.config.stateDir, s.value)).toEqual([]);
  });

  it("gives the boot restore every plaintext: per-secret files the restoring keys cannot open are restored from it", async () => {
    env = makeEnv();
    // the bundle is encrypted to the host's RSA key only; the seal goes to its first key (ed25519)
    const rsa = join(env.root, "ssh_host_rsa_key");
    execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa]);
    await importBundle(env.config, await writeBundle(join(env.root, "b"), readFileSync(`${rsa}.pub`, "utf8"), secrets));
    bootClean();
    const r = await restore({ ...env.config, identityPaths: [env.hostKey] });
    expect(r.sealProblem).toBeUndefined();
    expect(r.outcome!.results.every((x) => x.ok)).toBe(true);
    expect(live()).toEqual(all());
    // without the seal the same keys restore nothing: the seal did the work
    rmSync(join(generationDir(env.config.stateDir, 1), GENERATION_SEAL));
    bootClean();
    const without = await restore({ ...env.config, identityPaths: [env.hostKey] });
    expect(without.outcome!.results.filter((x) => x.ok)).toHaveLength(0);
  });

  it("a damaged seal is ignored with a warning; every secret is decrypted on its own, same result", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "b"), env.hostPub, secrets));
    const file = join(generationDir(env.config.stateDir, 1), GENERATION_SEAL);
    const bytes = readFileSync(file);
    bytes[bytes.length - 10]! ^= 1;
    writeFileSync(file, bytes);
    bootClean();
    const flags = ["--identity", env.hostKey, "--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir];
    const run = spawnSync(process.execPath, [AGENT, "restore", ...flags], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/warning: generation 1: \.sealed\.age does not open with this host's keys: .*; each secret was decrypted on its own/);
    expect(run.stderr).toContain("restored generation 1: 6 of 6 secrets");
    for (const s of secrets) expect(run.stderr).not.toContain(s.value);
    expect(live()).toEqual(all());
  });

  it("a damaged per-secret file is still reported and skipped with a good seal; the others restored", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "b"), env.hostPub, secrets));
    const blob = join(generationDir(env.config.stateDir, 1), "s2.age");
    const bytes = readFileSync(blob);
    bytes[bytes.length - 3]! ^= 1;
    writeFileSync(blob, bytes);
    bootClean();
    const r = await restore(env.config);
    expect(r.sealProblem).toBeUndefined();
    expect(r.outcome!.results.find((x) => x.name === "s2")).toMatchObject({ ok: false, code: "NIXSEAL_ERR_AGENT_CHECKSUM" });
    const { s2: _, ...rest } = all();
    expect(live()).toEqual(rest);
  });

  it("staging a bundle already stored puts the seal back (a generation stored without one)", async () => {
    env = makeEnv();
    const dir = await writeBundle(join(env.root, "b"), env.hostPub, secrets);
    await importBundle(env.config, dir);
    const file = join(generationDir(env.config.stateDir, 1), GENERATION_SEAL);
    rmSync(file);
    expect((await stage(env.config, dir)).existing).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    bootClean();
    const r = await restore({ ...env.config });
    expect(r.sealProblem).toBeUndefined();
    expect(live()).toEqual(all());
  });

  it("partial restore and fallback run on the seals: previous from its own seal; when neither fits, what fits of current, values intact", async () => {
    env = makeEnv({ tmpfsSize: "2m" });
    const pub = rsaOnly();
    const ed25519Only = { ...env.config, identityPaths: [env.hostKey] };
    await importBundle(env.config, await writeBundle(join(env.root, "b1"), pub, [{ name: "small", value: "fits-old" }]));
    await importBundle(env.config, await writeBundle(join(env.root, "b2"), pub, [{ name: "small", value: "fits-new" }, { name: "big", value: "B".repeat(300_000) }]));
    rebootWithTmpfs("200k"); // generation 2 no longer fits whole, generation 1 does
    const back = await restore(ed25519Only);
    expect(back.fellBackFrom?.generation).toBe(2);
    expect(back.generation).toBe(1);
    expect(back.sealProblem).toBeUndefined();
    expect(keyOf("small")).toBe("fits-old");

    rebootWithTmpfs("2m");
    await importBundle(env.config, await writeBundle(join(env.root, "b3"), pub, [{ name: "old-big", value: "O".repeat(300_000) }]));
    await importBundle(env.config, await writeBundle(join(env.root, "b4"), pub, [
      { name: "a-small", value: "part-a" },
      { name: "b-big", value: "B".repeat(300_000) },
      { name: "c-small", value: "part-c" },
    ]));
    rebootWithTmpfs("200k");
    // current was tried whole first (a-small written, then b-big did not fit): the values
    // it writes again from the same opened seal are still the values
    const part = await restore(ed25519Only);
    expect(part.generation).toBe(4);
    expect(part.sealProblem).toBeUndefined();
    expect(part.outcome!.results.map((r) => [r.name, r.ok, r.code])).toEqual([
      ["a-small", true, undefined],
      ["b-big", false, "NIXSEAL_ERR_AGENT_SECRET_NO_SPACE"],
      ["c-small", true, undefined],
    ]);
    expect(keyOf("a-small")).toBe("part-a");
    expect(keyOf("c-small")).toBe("part-c");
    expect(grepTree(env.config.runDir, "BBBB")).toEqual([]);
  });

  it("is trusted only as the agent stored it: a seal shipped inside an upload is never read nor kept", async () => {
    env = makeEnv();
    const dir = await writeBundle(join(env.root, "b"), env.hostPub, secrets);
    // a forged seal that fits the manifest exactly, encrypted to the host's own key
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const forged = encrypt(packSeal(manifest.id, manifest.secrets, secrets.map((s) => Buffer.from(`forged-${s.name}`))), [await parseRecipient(env.hostPub)]);
    writeFileSync(join(dir, GENERATION_SEAL), forged);
    await importBundle(env.config, dir);
    const stored = readFileSync(join(generationDir(env.config.stateDir, 1), GENERATION_SEAL));
    expect(stored.equals(Buffer.from(forged))).toBe(false);
    expect(live()).toEqual(all());
    bootClean();
    const r = await restore(env.config);
    expect(r.sealProblem).toBeUndefined();
    expect(live()).toEqual(all());
  });

  it("fits only its own manifest: another id, a renamed or reordered secret, another ciphertext, truncation are each refused", () => {
    const id = "a".repeat(64);
    const list = [
      { name: "one", sha256: "1".repeat(64) },
      { name: "two", sha256: "2".repeat(64) },
    ];
    const sealed = packSeal(id, list, [Buffer.from("v1"), Buffer.from("value two")]);
    expect((unpackSeal(sealed, { id, secrets: list }) as Uint8Array[]).map((p) => Buffer.from(p).toString())).toEqual(["v1", "value two"]);
    expect(unpackSeal(sealed, { id: "b".repeat(64), secrets: list })).toBe("sealed for another manifest");
    expect(unpackSeal(sealed, { id, secrets: [list[1]!, list[0]!] })).toBe("sealed for another set of secrets");
    expect(unpackSeal(sealed, { id, secrets: [list[0]!, { name: "two", sha256: "3".repeat(64) }] })).toBe("secret 'two' was sealed from another ciphertext");
    expect(unpackSeal(sealed, { id, secrets: list.slice(0, 1) })).toBe("sealed for another set of secrets");
    expect(unpackSeal(sealed.subarray(0, sealed.length - 1), { id, secrets: list })).toBe("truncated");
    expect(unpackSeal(Buffer.concat([sealed, Buffer.from("x")]), { id, secrets: list })).toBe("trailing data");
    expect(unpackSeal(Buffer.from("garbage"), { id, secrets: list })).toBe("not a nixseal seal");
  });
});

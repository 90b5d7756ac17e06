// The boot restore restores what fits and is valid, and falls back when the current
// generation cannot be restored whole. Stored generations here are written as an older
// agent left them: a manifest with a matching seal, so the restore reads it without the
// schema and its own checks are what stands between a bad entry and the host.
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../host-agent/commands/main.js";
import { MANIFEST_SEAL, sha256Hex } from "../../host-agent/generations/bundle-dir.js";
import { generationDir } from "../../host-agent/generations/store.js";
import { importBundle } from "../../host-agent/generations/operations.js";
import type { BundleManifest } from "../../core/index.js";
import { grepTree, makeEnv, writeBundle, type AgentEnv } from "./support.js";

let env: AgentEnv;
afterEach(() => env?.cleanup());

/** Edits stored generation n as an older agent could have stored it: sealed, no id check. */
function editStored(n: number, edit: (m: BundleManifest) => void): void {
  const dir = generationDir(env.config.stateDir, n);
  const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as BundleManifest;
  edit(m);
  const bytes = Buffer.from(JSON.stringify(m, null, 2) + "\n");
  writeFileSync(join(dir, "manifest.json"), bytes);
  writeFileSync(join(dir, MANIFEST_SEAL), sha256Hex(bytes) + "\n");
}

/** A reboot: the memory filesystem comes back empty, the disk stays. */
function reboot(size?: string): void {
  execFileSync("umount", [env.config.runDir]);
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size ?? "16m"},mode=0751,noswap,nodev,nosuid,noexec`, "nixseal-test", env.config.runDir]);
  rmSync(env.config.keysDir, { force: true });
}

async function agentRestore(): Promise<{ code: number; out: string }> {
  let out = "";
  const w = { write: (d: string | Uint8Array) => (out += d.toString()) };
  const code = await main(["restore", "--identity", env.hostKey, "--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir], { stdout: w, stderr: w });
  return { code, out };
}

const key = (name: string) => readFileSync(join(env.config.keysDir, name), "utf8");

describe("boot restore of a generation that cannot be restored whole", () => {
  it("a numeric owner beyond 2^32-2 fails that secret only (before: an internal error restored nothing)", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "b"), env.hostPub, [{ name: "good", value: "boot-good" }, { name: "huge", value: "boot-huge" }, { name: "minus1", value: "boot-minus1" }]));
    editStored(1, (m) => {
      m.secrets.find((s) => s.name === "huge")!.owner = "4294967296";
      m.secrets.find((s) => s.name === "minus1")!.group = "4294967295";
    });
    reboot();
    const r = await agentRestore();
    expect(r.code).toBe(1);
    expect(r.out).toContain("restored generation 1: 1 of 3 secrets");
    expect(r.out).toContain("error: secret 'huge': 4294967296 is not a valid user or group id (0 to 4294967294)");
    expect(r.out).toContain("error: secret 'minus1': 4294967295 is not a valid user or group id");
    expect(r.out).not.toContain("internal error");
    expect(key("good")).toBe("boot-good");
    expect(existsSync(join(env.config.keysDir, "huge"))).toBe(false);
    expect(r.out).not.toMatch(/boot-(good|huge|minus1)/);
  });

  it("a current generation that no longer fits falls back to the previous one, which fits whole", async () => {
    env = makeEnv({ tmpfsSize: "1m" });
    await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, [{ name: "small", value: "fits-old" }]));
    await importBundle(env.config, await writeBundle(join(env.root, "b2"), env.hostPub, [{ name: "small", value: "fits-new" }, { name: "big", value: "B".repeat(300_000) }]));
    reboot("200k"); // the tmpfs shrank: generation 2 no longer fits, generation 1 does
    const r = await agentRestore();
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/error: current generation 2 is unusable \(.* is full: generation 2 does not fit.*\); restored previous generation 1/);
    expect(r.out).toContain("restored generation 1: 1 of 1 secrets");
    expect(key("small")).toBe("fits-old");
    expect(readlinkSync(join(env.config.stateDir, "current"))).toBe("generations/2"); // the operator's choice stays recorded
    const s = await main(["status", "--json", "--identity", env.hostKey, "--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir], { stdout: { write: () => true }, stderr: { write: () => true } });
    expect(s).toBe(1); // current's secrets are not all live
    expect(grepTree(env.config.runDir, "BBBB")).toEqual([]);
    expect(r.out).not.toMatch(/fits-(old|new)|BBBB/);
  });

  it("when neither fits whole, what fits of the current generation is restored and the rest reported", async () => {
    env = makeEnv({ tmpfsSize: "2m" });
    await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, [{ name: "old-big", value: "O".repeat(300_000) }]));
    await importBundle(env.config, await writeBundle(join(env.root, "b2"), env.hostPub, [
      { name: "a-small", value: "part-a" },
      { name: "b-big", value: "B".repeat(300_000) },
      { name: "c-small", value: "part-c" },
    ]));
    reboot("200k");
    const r = await agentRestore();
    expect(r.code).toBe(1);
    expect(r.out).toContain("restored generation 2: 2 of 3 secrets");
    expect(r.out).toContain("error: secret 'b-big' does not fit in");
    expect(r.out).toContain("the secrets that fit were restored");
    expect(key("a-small")).toBe("part-a");
    expect(key("c-small")).toBe("part-c");
    expect(existsSync(join(env.config.keysDir, "b-big"))).toBe(false);
    // no partial file of the big one is left on the tmpfs
    expect(grepTree(env.config.runDir, "BBBB")).toEqual([]);
    expect(r.out).not.toMatch(/part-[ac]|OOOO|BBBB/);
  });

  it("paths an older agent stored unchecked fail their link only: the policy and duplicates are checked at boot too", async () => {
    env = makeEnv();
    const ok = join(env.root, "etc", "app", "ok");
    await importBundle(env.config, await writeBundle(join(env.root, "b"), env.hostPub, [{ name: "ok", value: "link-ok", path: ok }, { name: "loop", value: "link-loop" }, { name: "twice", value: "link-twice" }]));
    editStored(1, (m) => {
      m.secrets.find((s) => s.name === "loop")!.path = join(env.config.runDir, "current");
      m.secrets.find((s) => s.name === "twice")!.path = ok;
    });
    reboot();
    const r = await agentRestore();
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/secret 'loop': cannot link .*run\/nixseal\/current: it is inside .*run\/nixseal, which nixseal manages/);
    expect(r.out).toMatch(/secret 'twice': cannot link .*etc\/app\/ok: it is also the path of secret 'ok'/);
    // current is still the generation dir, every secret reachable
    expect(lstatSync(join(env.config.runDir, "current")).isSymbolicLink()).toBe(true);
    expect(readFileSync(ok, "utf8")).toBe("link-ok");
    expect(key("loop")).toBe("link-loop");
    expect(key("twice")).toBe("link-twice");
  });
});

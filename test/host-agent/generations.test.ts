import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generationDir, listGenerations } from "../../host-agent/generations/store.js";
import { activate, importBundle, rollback, stage } from "../../host-agent/generations/operations.js";
import { unitsFor } from "../../core/unit-actions.js";
import { grepTree, makeEnv, rewriteManifest, writeBundle, type AgentEnv } from "./support.js";

let env: AgentEnv;
afterEach(() => env?.cleanup());

const live = (name: string) => readFileSync(join(env.config.keysDir, name), "utf8");

describe("generations", () => {
  it("prunes to keepGenerations, never current or previous, and keeps only the live plaintext", async () => {
    env = makeEnv({ config: { keepGenerations: 3 } });
    for (let g = 1; g <= 6; g++) await importBundle(env.config, await writeBundle(join(env.root, `b${g}`), env.hostPub, [{ name: "a", value: `value-${g}` }]));
    expect(listGenerations(env.config.stateDir)).toEqual([4, 5, 6]);
    expect(readlinkSync(join(env.config.stateDir, "current"))).toBe("generations/6");
    expect(readlinkSync(join(env.config.stateDir, "previous"))).toBe("generations/5");
    expect(readdirSync(env.config.runDir).filter((n) => n !== ".lock").sort()).toEqual(["6", "current"]);
    // previous survives pruning even when it is old
    await activate(env.config, 4);
    expect(live("a")).toBe("value-4");
    await importBundle(env.config, await writeBundle(join(env.root, "b7"), env.hostPub, [{ name: "a", value: "value-7" }]));
    expect(listGenerations(env.config.stateDir)).toEqual([4, 5, 6, 7]);
    expect(readlinkSync(join(env.config.stateDir, "previous"))).toBe("generations/4");
    await rollback(env.config);
    expect(live("a")).toBe("value-4");
    await rollback(env.config);
    expect(live("a")).toBe("value-7");
  });

  it("stage changes nothing live; a corrupt bundle is refused and the previous generation stays active", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, [{ name: "a", value: "good-a" }]));
    const bad = await writeBundle(join(env.root, "b2"), env.hostPub, [{ name: "a", value: "new-a" }]);
    const blob = readFileSync(join(bad, "a.age"));
    writeFileSync(join(bad, "a.age"), blob.subarray(0, blob.length - 20)); // truncated in transit
    await expect(importBundle(env.config, bad)).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_CHECKSUM" });
    writeFileSync(join(bad, "manifest.json"), "{}");
    await expect(stage(env.config, bad)).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_BUNDLE_INVALID", message: expect.stringContaining("$.format") });
    expect(listGenerations(env.config.stateDir)).toEqual([1]);
    expect(live("a")).toBe("good-a");
  });

  it("a truncated blob whose hash was updated still fails to decrypt and leaves no partial file", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, [{ name: "a", value: "good-a" }]));
    const dir = await writeBundle(join(env.root, "b2"), env.hostPub, [{ name: "a", value: "x".repeat(200_000) }, { name: "b", value: "b" }]);
    const blob = readFileSync(join(dir, "a.age"));
    const cut = blob.subarray(0, blob.length - 70_000);
    writeFileSync(join(dir, "a.age"), cut);
    const { sha256Hex } = await import("../../host-agent/generations/bundle-dir.js");
    rewriteManifest(dir, (m) => (m.secrets.find((s) => s.name === "a")!.sha256 = sha256Hex(cut)));
    await expect(importBundle(env.config, dir)).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_DECRYPT" });
    expect(grepTree(env.config.runDir, "xxxxxxxx")).toEqual([]);
    expect(live("a")).toBe("good-a");
  });

  it("a tmpfs too small: clean ENOSPC error, nothing half-written, the old generation intact", async () => {
    env = makeEnv({ tmpfsSize: "64k" });
    await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, [{ name: "small", value: "small-old" }]));
    const big = await writeBundle(join(env.root, "b2"), env.hostPub, [
      { name: "small", value: "small-new" },
      { name: "big", value: "y".repeat(200_000) },
    ]);
    const err = await importBundle(env.config, big).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NIXSEAL_ERR_AGENT_NO_SPACE" });
    expect((err as Error).message).toContain("the previous generation stays active");
    expect(live("small")).toBe("small-old");
    expect(readdirSync(env.config.runDir).filter((n) => n !== ".lock").sort()).toEqual(["1", "current"]);
    expect(readlinkSync(join(env.config.stateDir, "current"))).toBe("generations/1");
  });

  it("writes nothing through a symlink planted at a secret's path in the new generation dir", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, [{ name: "a", value: "old-a" }]));
    // a symlink planted at /run/keys/<name> (keys as a directory) is replaced, never followed
    const victim = join(env.root, "victim");
    writeFileSync(victim, "victim content");
    const env2 = makeEnv({ keysDir: "directory" });
    try {
      const { symlinkSync } = await import("node:fs");
      symlinkSync(victim, join(env2.config.keysDir, "a"));
      await importBundle(env2.config, await writeBundle(join(env2.root, "b1"), env2.hostPub, [{ name: "a", value: "planted-value" }]));
      expect(readFileSync(victim, "utf8")).toBe("victim content");
      expect(readlinkSync(join(env2.config.keysDir, "a"))).toBe(join(env2.config.runDir, "current", "a"));
      // a regular file at a Secret.path is not ours: reported, left alone
      const target = join(env2.root, "etc-app-key");
      writeFileSync(target, "precious");
      const out = await importBundle(env2.config, await writeBundle(join(env2.root, "b2"), env2.hostPub, [{ name: "a", value: "planted-value", path: target }]));
      expect(out.activation.results[0]).toMatchObject({ ok: false, code: "NIXSEAL_ERR_AGENT_LINK" });
      expect(readFileSync(target, "utf8")).toBe("precious");
    } finally {
      env2.cleanup();
    }
  });

  it("stores ciphertext only, with a seal; a hand-edited manifest goes through the schema again", async () => {
    env = makeEnv();
    await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, [{ name: "a", value: "sealed-value" }]));
    const dir = generationDir(env.config.stateDir, 1);
    expect(readdirSync(dir).sort()).toEqual([".manifest.sha256", ".sealed.age", "a.age", "manifest.json"]);
    expect(grepTree(env.config.stateDir, "sealed-value")).toEqual([]);
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    m.secrets[0].name = "../escape";
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(m));
    await expect(activate(env.config, 1)).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_BUNDLE_INVALID" });
    expect(existsSync(join(env.config.runDir, "..", "escape"))).toBe(false);
  });

  it("restarts each unit once and only for real changes; restart wins over reload", () => {
    expect(
      unitsFor([
        { restartUnits: ["a.service", "b.service"], reloadUnits: ["c.service"] },
        { restartUnits: ["a.service"], reloadUnits: ["b.service", "d.service"] },
      ]),
    ).toEqual({ restart: ["a.service", "b.service"], reload: ["c.service", "d.service"] });
  });

  it("reports only secrets whose content, owner, group or mode changed", async () => {
    env = makeEnv();
    const secrets = (v: string, mode = "0400") => [
      { name: "same", value: "same-value", restartUnits: ["same.service"] },
      { name: "content", value: v, restartUnits: ["content.service"] },
      { name: "mode", value: "mode-value", mode },
    ];
    await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, secrets("v1")));
    const out = await importBundle(env.config, await writeBundle(join(env.root, "b2"), env.hostPub, secrets("v2", "0440")));
    expect(out.activation.changed.sort()).toEqual(["content", "mode"]);
  });
});

// Image baking: `nixseal-agent import DIR --root IMG` checks a bundle against an offline
// system tree (its host key, its users) and stores it there as current, writing no
// plaintext; the image's first boot (restore) brings the secrets back.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { restore } from "../../host-agent/boot/restore.js";
import { grepTree, makeEnv, makeHostKey, writeBundle, type AgentEnv } from "./support.js";

const AGENT = join(import.meta.dirname, "..", "..", "dist", "host-agent", "bin.cjs");
let env: AgentEnv;
afterEach(() => env?.cleanup());

/** A minimal offline system tree: its own host key, passwd and group. */
function makeImage(): { root: string; pub: string } {
  const root = join(env.root, "img");
  mkdirSync(join(root, "etc", "ssh"), { recursive: true });
  const { pub } = makeHostKey(join(root, "etc", "ssh"));
  writeFileSync(join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nimg-only:x:4242:4242::/nonexistent:/usr/sbin/nologin\n");
  writeFileSync(join(root, "etc", "group"), "root:x:0:\nimg-only:x:4242:\n");
  return { root, pub };
}

const agent = (...args: string[]) => spawnSync(process.execPath, [AGENT, ...args], { encoding: "utf8" });

describe("nixseal-agent import --root (image baking)", () => {
  it("stores the bundle as the image's current generation, checked against the image's key and users, no plaintext", async () => {
    env = makeEnv();
    const img = makeImage();
    const dir = await writeBundle(join(env.root, "b"), img.pub, [
      { name: "app", value: "baked-value-app", owner: "img-only", group: "img-only" },
      { name: "root-key", value: "baked-value-root" },
    ]);
    const r = agent("import", dir, "--root", img.root);
    expect(r.stderr).toContain("stored generation 1 (2 secrets) as current");
    expect(r.status).toBe(0);
    const state = join(img.root, "var", "lib", "nixseal");
    expect(readlinkSync(join(state, "current"))).toBe("generations/1");
    expect(grepTree(img.root, "baked-value")).toEqual([]);
    // first boot: the restore of the image's state with the image's key
    const boot = await restore({ ...env.config, stateDir: state, identityPaths: [join(img.root, "etc", "ssh", "ssh_host_ed25519_key")] });
    expect(boot.outcome!.results.find((x) => x.name === "root-key")).toMatchObject({ ok: true });
    expect(readFileSync(join(env.config.keysDir, "root-key"), "utf8")).toBe("baked-value-root");
    // img-only exists in the image, not on this box: the box's restore says so
    expect(boot.outcome!.results.find((x) => x.name === "app")).toMatchObject({ ok: false, code: "NIXSEAL_ERR_AGENT_UNKNOWN_OWNER" });
  });

  it("refuses an owner the image does not have (even if the build machine has it) and a bundle for another key", async () => {
    env = makeEnv();
    const img = makeImage();
    const nobody = await writeBundle(join(env.root, "b1"), img.pub, [{ name: "x", value: "baked-value-x", owner: "nobody" }]);
    const r1 = agent("import", nobody, "--root", img.root);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toContain("user 'nobody' does not exist on this host");
    const foreign = await writeBundle(join(env.root, "b2"), env.hostPub, [{ name: "y", value: "baked-value-y" }]);
    const r2 = agent("import", foreign, "--root", img.root);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain("secret 'y' cannot be decrypted");
    expect(spawnSync("ls", [join(img.root, "var")]).status).not.toBe(0); // nothing stored
  });
});

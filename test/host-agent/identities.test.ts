// Host identities among several: a missing, empty or garbage file next to a good one is
// skipped with a warning that names it and says what to do, on stderr (the journal for
// units) and, through the API, in the reply and the service log. "No identity matched"
// names the stanza types of the file and the fingerprints of the keys tried.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildAgent } from "../../host-agent/api/app.js";
import { main } from "../../host-agent/commands/main.js";
import { decrypt, parseHostIdentityFile } from "../../core/age/decrypt.js";
import { sshTag } from "../../core/age/ssh-tag.js";
import { encrypt, parseRecipient, sshFingerprint, type NixsealError } from "../../core/index.js";
import { makeEnv, makeHostKey, writeBundle, type AgentEnv } from "./support.js";

let env: AgentEnv;
afterEach(() => env?.cleanup());

async function agent(argv: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const w = { write: (d: string | Uint8Array) => (out += d.toString()) };
  const code = await main(argv, { stdout: w, stderr: w });
  return { code, out };
}

describe("identity files among several", () => {
  it("missing, empty and garbage files are each named in a warning; the good key is used", async () => {
    env = makeEnv();
    const missing = join(env.root, "no-such-key");
    const empty = join(env.root, "empty-key");
    const garbage = join(env.root, "garbage-key");
    writeFileSync(empty, "");
    writeFileSync(garbage, "this is not a key\n");
    const dir = await writeBundle(join(env.root, "b"), env.hostPub, [{ name: "a", value: "id-value" }]);
    const dirs = ["--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir];
    const ids = ["--identity", missing, "--identity", empty, "--identity", env.hostKey, "--identity", garbage];
    const r = await agent(["import", dir, ...dirs, ...ids]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`warning: identity file ${missing} does not exist; skipped it and used the others: fix the file or remove it from identityPaths`);
    expect(r.out).toContain(`warning: identity file ${empty} is empty; skipped it`);
    expect(r.out).toMatch(new RegExp(`warning: identity file ${garbage}:1: not an identity .*; skipped it`));
    expect(r.out.match(/warning: identity file /g)).toHaveLength(3); // once each, not once per step
    expect(r.out).toContain("imported generation 1: 1 of 1 secrets");
    const restored = await agent(["restore", ...dirs, ...ids]);
    expect(restored.out.match(/warning: identity file /g)).toHaveLength(3);
    expect(r.out + restored.out).not.toContain("id-value");
    // the default list's missing RSA key says nothing: many hosts have none
    const quiet = await agent(["restore", ...dirs, "--identity", env.hostKey, "--identity", "/etc/ssh/ssh_host_rsa_key"]);
    expect(quiet.out).not.toContain("warning");
  });

  it("the API's stage reply carries the warnings and the service log has them", async () => {
    env = makeEnv();
    const garbage = join(env.root, "garbage-key");
    writeFileSync(garbage, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 at all\n-----END OPENSSH PRIVATE KEY-----\n");
    const lines: string[] = [];
    const app = await buildAgent({ config: { ...env.config, identityPaths: [env.hostKey, garbage] }, log: (l) => lines.push(l) });
    try {
      const dir = await writeBundle(join(env.root, "b"), env.hostPub, [{ name: "a", value: "id-value" }]);
      const r = await app.inject({ method: "POST", url: "/stage", payload: { dir } });
      expect(r.statusCode).toBe(200);
      expect(r.json().warnings).toEqual([expect.stringContaining(`identity file ${garbage}`)]);
      expect(lines.join("")).toContain(`identity file ${garbage}`);
      expect(r.body + lines.join("")).not.toContain("id-value");
    } finally {
      await app.close();
    }
  });
});

describe("no identity matched", () => {
  it("names the file's stanza types and tags and each key tried by its fingerprint", async () => {
    env = makeEnv();
    mkdirSync(join(env.root, "other"));
    const other = makeHostKey(join(env.root, "other"));
    const blob = encrypt(Buffer.from("nomatch-value"), [await parseRecipient(env.hostPub), await parseRecipient(other.pub)]);
    const third = makeHostKey(mkdtempSync(join(env.root, "third-")));
    const ids = await parseHostIdentityFile(readFileSync(third.key), third.key);
    const err = (() => {
      try {
        decrypt(blob, ids);
      } catch (e) {
        return e as NixsealError;
      }
    })();
    const tag = (pub: string) => sshTag(Buffer.from(pub.split(" ")[1]!, "base64"));
    expect(err).toMatchObject({ code: "NIXSEAL_ERR_AGE_NO_IDENTITY" });
    expect(err!.message).toContain(`it has 2 ssh-ed25519 stanzas (tags ${tag(env.hostPub)}, ${tag(other.pub)})`);
    expect(err!.message).toContain(`tried 1 identity: ssh-ed25519 ${sshFingerprint(third.pub)} (tag ${tag(third.pub)})`);
    expect(err!.message).not.toContain("nomatch-value");
  });
});

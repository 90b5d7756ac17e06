// core/keys: OpenSSH public key lines and private key files beyond the happy
// path (line endings, comments, types age has no recipient for, PEM ed25519).
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decrypt, encrypt, parseIdentityFile, parseRecipient, parseSshPrivateKey, parseSshPublicKey } from "../../core/age/index.js";
import { NixsealError } from "../../core/errors.js";
import { sshString } from "../../core/keys/ssh-wire.js";
import { sshKeygen, tempDir, type KeyPair } from "./support.js";

const t = tempDir();
let ed: KeyPair;
let rsa: KeyPair;
beforeAll(() => {
  ed = sshKeygen(t.dir, "ed", "ed25519");
  rsa = sshKeygen(t.dir, "rsa", "rsa", { bits: 3072 });
});
afterAll(() => t.cleanup());

const code = async (fn: () => unknown): Promise<string> => {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NixsealError);
    return (err as NixsealError).code;
  }
  return "no error";
};

describe("public keys", () => {
  it("parses type, comment and RSA size", () => {
    const e = parseSshPublicKey(ed.pub);
    expect(e.type).toBe("ssh-ed25519");
    expect(e.comment).toBe("ed@nixseal-test");
    const r = parseSshPublicKey(rsa.pub + "\r\n");
    expect(r.type === "ssh-rsa" && r.bits).toBe(3072);
  });

  it("refuses authorized_keys options, unknown and unsupported types", async () => {
    expect(await code(() => parseSshPublicKey(`from="10.0.0.1" ${ed.pub}`))).toBe("NIXSEAL_ERR_AGE_RECIPIENT");
    expect(await code(() => parseSshPublicKey("ssh-dss AAAAB3NzaC1kc3MAAACBAP"))).toBe("NIXSEAL_ERR_KEY_UNSUPPORTED");
    expect(await code(() => parseSshPublicKey("sk-ssh-ed25519@openssh.com AAAAGnNr"))).toBe("NIXSEAL_ERR_KEY_UNSUPPORTED");
    expect(await code(() => parseSshPublicKey("ssh-foo AAAA"))).toBe("NIXSEAL_ERR_AGE_RECIPIENT");
    expect(await code(() => parseSshPublicKey(ed.pub.split(" ")[0]!))).toBe("NIXSEAL_ERR_AGE_RECIPIENT");
  });
});

describe("private keys", () => {
  it("reads OpenSSH keys with CRLF line endings", async () => {
    const ids = await parseIdentityFile(ed.priv.replace(/\n/g, "\r\n"), ed.path);
    expect(Buffer.from(decrypt(encrypt(Buffer.from("crlf"), [await parseRecipient(ed.pub)]), ids)).toString()).toBe("crlf");
  });

  it("unencrypted openssh-key-v1 RSA (3072, like a default host key) opens what its public key encrypts", async () => {
    const key = await parseSshPrivateKey(rsa.priv, rsa.path);
    expect(key.type).toBe("ssh-rsa");
    const ids = await parseIdentityFile(rsa.priv, rsa.path);
    expect(Buffer.from(decrypt(encrypt(Buffer.from("rsa"), [await parseRecipient(rsa.pub)]), ids)).toString()).toBe("rsa");
  });

  it("reads a PKCS#8 PEM ed25519 key", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
    const line = `ssh-ed25519 ${Buffer.concat([sshString("ssh-ed25519"), sshString(raw)]).toString("base64")} pem`;
    const ids = await parseIdentityFile(privateKey.export({ format: "pem", type: "pkcs8" }) as string, "key.pem");
    expect(Buffer.from(decrypt(encrypt(Buffer.from("pem"), [await parseRecipient(line)]), ids)).toString()).toBe("pem");
  });

  it("refuses a key file whose two halves disagree", async () => {
    // Swap the private section of one ed25519 key into another's file.
    const other = sshKeygen(t.dir, "other", "ed25519");
    const blob = (text: string) => Buffer.from(text.split("\n").slice(1, -2).join(""), "base64");
    const a = blob(ed.priv);
    const b = blob(other.priv);
    const pubLen = 4 + 51; // uint32 length + ssh-ed25519 public blob
    const header = 15 + 4 + 4 + 4 + 4 + 4 + 4; // magic, "none", "none", "", count
    const mixed = Buffer.concat([a.subarray(0, header + pubLen), b.subarray(header + pubLen)]);
    const text = ["-----BEGIN OPENSSH PRIVATE KEY-----", mixed.toString("base64"), "-----END OPENSSH PRIVATE KEY-----", ""].join("\n");
    expect(await code(() => parseIdentityFile(text, "mixed"))).toBe("NIXSEAL_ERR_KEY_INVALID");
  });
});

describe("age recipients of other types", () => {
  it("post-quantum and plugin recipients are refused by name", async () => {
    const pq = "age1pq1" + "q".repeat(60);
    await expect(parseRecipient(pq)).rejects.toThrow(/post-quantum \(age1pq…\) recipients are not supported/);
    await expect(parseRecipient("age1yubikey1" + "q".repeat(50))).rejects.toThrow(/plugin \(age1yubikey…\) recipients are not supported/);
  });
});

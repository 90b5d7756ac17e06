// Round trips per recipient type, identity.recipient() equality, multi-recipient
// files, armor, and the small helpers of the contract.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SshEd25519Identity,
  SshEd25519Recipient,
  SshRsaIdentity,
  SshRsaRecipient,
  X25519Identity,
  X25519Recipient,
  canonicalRecipient,
  decrypt,
  encrypt,
  generateAgeIdentity,
  parseIdentityFile,
  parseRecipient,
  parseRecipientsFile,
  recipientOf,
  sshFingerprint,
} from "../../core/age/index.js";
import { ageKeygen, sshKeygen, tempDir, type KeyPair } from "./support.js";

const t = tempDir();
let ed: KeyPair;
let rsa: KeyPair;
beforeAll(() => {
  ed = sshKeygen(t.dir, "ed", "ed25519");
  rsa = sshKeygen(t.dir, "rsa", "rsa", { bits: 2048 });
});
afterAll(() => t.cleanup());

const sizes = [0, 1, 100, 65535, 65536, 65537, 131072, 300_000];

describe("round trips", () => {
  it("X25519: generateAgeIdentity, recipientOf, encrypt, decrypt", async () => {
    const { identity, recipient } = generateAgeIdentity();
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
    expect(recipientOf(identity)).toBe(recipient);
    const r = await parseRecipient(recipient);
    const ids = await parseIdentityFile(`# created: now\n# public key: ${recipient}\n${identity}\n`, "id.txt");
    for (const size of sizes) {
      const p = randomBytes(size);
      expect(Buffer.from(decrypt(encrypt(p, [r]), ids)).equals(p)).toBe(true);
    }
  });

  it("X25519: recipientOf agrees with age-keygen", () => {
    const k = ageKeygen(t.dir, "x.txt");
    expect(recipientOf(k.identity)).toBe(k.recipient);
  });

  it("ssh-ed25519: identity.recipient() equals the parsed public key's recipient", async () => {
    const r = await parseRecipient(ed.pub);
    const [id] = await parseIdentityFile(ed.priv, ed.path);
    expect(r).toBeInstanceOf(SshEd25519Recipient);
    expect(id).toBeInstanceOf(SshEd25519Identity);
    const fromId = (id as SshEd25519Identity).recipient();
    const fromLine = r as SshEd25519Recipient;
    // The identity derives pkM from its scalar (node:crypto), the line through libsodium.
    expect(Buffer.from(fromId.pkM).equals(Buffer.from(fromLine.pkM))).toBe(true);
    expect(fromId.tag).toBe(fromLine.tag);
    expect(fromId.toString()).toBe(fromLine.toString());
    for (const size of sizes) {
      const p = randomBytes(size);
      expect(Buffer.from(decrypt(encrypt(p, [fromLine]), [id!])).equals(p)).toBe(true);
      expect(Buffer.from(decrypt(encrypt(p, [fromId]), [id!])).equals(p)).toBe(true);
    }
  });

  it("ssh-rsa: identity.recipient() equals the parsed public key's recipient", async () => {
    const r = (await parseRecipient(rsa.pub)) as SshRsaRecipient;
    const [id] = await parseIdentityFile(rsa.priv, rsa.path);
    expect(r).toBeInstanceOf(SshRsaRecipient);
    expect(id).toBeInstanceOf(SshRsaIdentity);
    const fromId = (id as SshRsaIdentity).recipient();
    expect(fromId.tag).toBe(r.tag);
    expect(fromId.toString()).toBe(r.toString());
    for (const size of [0, 1, 65536, 70000]) {
      const p = randomBytes(size);
      expect(Buffer.from(decrypt(encrypt(p, [r]), [id!])).equals(p)).toBe(true);
    }
  });

  it("X25519: identity.recipient() equals the age1 recipient", () => {
    const { identity, recipient } = generateAgeIdentity();
    const id = new X25519Identity(identity);
    expect(id.recipient().toString()).toBe(recipient);
    expect(new X25519Recipient(recipient).toString()).toBe(recipient);
  });

  it("one file to three types opens with each identity, and armored too", async () => {
    const x = generateAgeIdentity();
    const rs = await parseRecipientsFile(`# team\n${x.recipient}\n\n${ed.pub}\n${rsa.pub}\n`, "recipients.txt");
    expect(rs).toHaveLength(3);
    const ids = [
      await parseIdentityFile(x.identity, "x"),
      await parseIdentityFile(ed.priv, ed.path),
      await parseIdentityFile(rsa.priv, rsa.path),
    ];
    for (const armor of [false, true]) {
      const file = encrypt(Buffer.from("three ways"), rs, { armor });
      if (armor) expect(Buffer.from(file).toString()).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n[\s\S]+\n-----END AGE ENCRYPTED FILE-----\n$/);
      for (const id of ids) expect(Buffer.from(decrypt(file, id)).toString()).toBe("three ways");
      // Identities of other keys first: they skip, the matching one opens.
      expect(Buffer.from(decrypt(file, [...ids[2]!, ...ids[0]!])).toString()).toBe("three ways");
    }
  });

  it("recipient objects are reusable: each wrap uses a fresh ephemeral share", async () => {
    const r = await parseRecipient(ed.pub);
    const a = r.wrapFileKey(randomBytes(16))[0]!;
    const b = r.wrapFileKey(randomBytes(16))[0]!;
    expect(a.args[0]).toBe("ssh-ed25519");
    expect(a.args[1]).toBe(b.args[1]);
    expect(a.args[2]).not.toBe(b.args[2]);
    expect(a.body).toHaveLength(32);
  });
});

describe("key helpers", () => {
  it("sshFingerprint matches ssh-keygen -l", () => {
    for (const k of [ed, rsa]) {
      const expected = execFileSync("ssh-keygen", ["-l", "-f", k.path + ".pub"]).toString().split(" ")[1];
      expect(sshFingerprint(k.pub)).toBe(expected);
    }
  });

  it("canonicalRecipient drops comments and whitespace, keeps type and key", () => {
    const [type, b64] = ed.pub.split(" ");
    expect(canonicalRecipient(`  ${type}\t${b64}   some comment here `)).toBe(`${type} ${b64}`);
    expect(canonicalRecipient(rsa.pub)).toBe(rsa.pub.split(" ").slice(0, 2).join(" "));
    const { recipient } = generateAgeIdentity();
    expect(canonicalRecipient(` ${recipient} `)).toBe(recipient);
  });
});

describe("buffers handed to callers", () => {
  it("encrypt and decrypt results own their ArrayBuffer (transferable, safe to zero)", async () => {
    const { recipient, identity } = generateAgeIdentity();
    const file = encrypt(Buffer.from("small"), [await parseRecipient(recipient)]);
    expect(file.byteOffset).toBe(0);
    expect(file.buffer.byteLength).toBe(file.length);
    const armored = encrypt(Buffer.from("small"), [await parseRecipient(recipient)], { armor: true });
    expect(armored.buffer.byteLength).toBe(armored.length);
    const out = decrypt(file, await parseIdentityFile(identity, "x"));
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(out.length);
    expect(Buffer.from(out).toString()).toBe("small");
  });
});

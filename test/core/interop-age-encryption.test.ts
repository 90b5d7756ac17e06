// Interop with age-encryption (typage), the reference TypeScript library, both
// ways: our ssh recipients and identities plug into its Encrypter/Decrypter as
// custom Recipient/Identity objects, and files it writes for age1 recipients
// open with our code (and ours with its code).
import { randomBytes } from "node:crypto";
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient, armor as typageArmor } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decrypt, encrypt, parseIdentityFile, parseRecipient, type Identity, type Recipient } from "../../core/age/index.js";
import { sshKeygen, tempDir } from "./support.js";

const t = tempDir();
const ssh: Record<string, { r: Recipient; ids: Identity[] }> = {};
beforeAll(async () => {
  for (const [name, type, bits] of [["ed25519", "ed25519", undefined], ["rsa", "rsa", 2048]] as const) {
    const k = sshKeygen(t.dir, name, type, { bits });
    ssh[name] = { r: await parseRecipient(k.pub), ids: await parseIdentityFile(k.priv, k.path) };
  }
}, 60_000);
afterAll(() => t.cleanup());

describe("age-encryption interop", () => {
  for (const name of ["ed25519", "rsa"]) {
    it(`${name}: our recipient in its Encrypter, our decrypt`, async () => {
      const e = new Encrypter();
      e.addRecipient(ssh[name]!.r);
      const plaintext = randomBytes(70_000);
      const file = await e.encrypt(plaintext);
      expect(Buffer.from(decrypt(file, ssh[name]!.ids)).equals(plaintext)).toBe(true);
    });
    it(`${name}: our encrypt, our identity in its Decrypter`, async () => {
      const d = new Decrypter();
      for (const id of ssh[name]!.ids) d.addIdentity(id);
      const plaintext = randomBytes(70_000);
      const out = await d.decrypt(encrypt(plaintext, [ssh[name]!.r]));
      expect(Buffer.from(out).equals(plaintext)).toBe(true);
    });
  }

  it("X25519: files age-encryption writes for age1 recipients open with nixseal", async () => {
    const identity = await generateX25519Identity();
    const recipient = await identityToRecipient(identity);
    const e = new Encrypter();
    e.addRecipient(recipient);
    for (const size of [0, 1, 65536, 65537]) {
      const plaintext = randomBytes(size);
      const file = await e.encrypt(plaintext);
      const ids = await parseIdentityFile(identity, "typage");
      expect(Buffer.from(decrypt(file, ids)).equals(plaintext)).toBe(true);
      // Armored by age-encryption, dearmored by us.
      const armored = typageArmor.encode(file);
      expect(Buffer.from(decrypt(Buffer.from(armored), ids)).equals(plaintext)).toBe(true);
    }
  });

  it("X25519: files nixseal writes open with age-encryption", async () => {
    const identity = await generateX25519Identity();
    const recipient = await identityToRecipient(identity);
    const d = new Decrypter();
    d.addIdentity(identity);
    const plaintext = randomBytes(65537);
    const file = encrypt(plaintext, [await parseRecipient(recipient)]);
    expect(Buffer.from(await d.decrypt(file)).equals(plaintext)).toBe(true);
    const armored = encrypt(plaintext, [await parseRecipient(recipient)], { armor: true });
    expect(Buffer.from(await d.decrypt(typageArmor.decode(Buffer.from(armored).toString()))).equals(plaintext)).toBe(true);
  });

  it("a mixed file (ssh-ed25519 + ssh-rsa + age1) made by age-encryption opens with each of our identities", async () => {
    const identity = await generateX25519Identity();
    const e = new Encrypter();
    e.addRecipient(ssh.ed25519!.r);
    e.addRecipient(ssh.rsa!.r);
    e.addRecipient(await identityToRecipient(identity));
    const file = await e.encrypt("mixed");
    for (const ids of [ssh.ed25519!.ids, ssh.rsa!.ids, await parseIdentityFile(identity, "x")]) {
      expect(Buffer.from(decrypt(file, ids)).toString()).toBe("mixed");
    }
  });
});

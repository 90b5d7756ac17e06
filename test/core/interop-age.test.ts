// Interop with the real `age` binary (Debian's age 1.1.1), both ways, for keys
// made by ssh-keygen and age-keygen in the test: nixseal encrypts and `age -d`
// opens; `age -R`/`-r` encrypts and nixseal opens; a file to several
// recipients opens with each key, on both sides.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decrypt, encrypt, parseIdentityFile, parseRecipient, type Identity, type Recipient } from "../../core/age/index.js";
import { age, ageKeygen, sshKeygen, tempDir, type KeyPair } from "./support.js";

const t = tempDir();
let keys: Record<string, KeyPair>;
let x: ReturnType<typeof ageKeygen>;
const recipients: Record<string, Recipient> = {};
const identities: Record<string, Identity[]> = {};

beforeAll(async () => {
  keys = {
    ed25519: sshKeygen(t.dir, "ed25519", "ed25519"),
    rsa2048: sshKeygen(t.dir, "rsa2048", "rsa", { bits: 2048 }),
    rsa4096: sshKeygen(t.dir, "rsa4096", "rsa", { bits: 4096 }),
  };
  x = ageKeygen(t.dir, "x25519.txt");
  for (const [name, k] of Object.entries(keys)) {
    recipients[name] = await parseRecipient(k.pub);
    identities[name] = await parseIdentityFile(k.priv, k.path);
  }
  recipients.x25519 = await parseRecipient(x.recipient);
  identities.x25519 = await parseIdentityFile(readFileSync(x.path), x.path);
}, 60_000);
afterAll(() => t.cleanup());

const keyFile = (name: string) => (name === "x25519" ? x.path : keys[name]!.path);
const names = ["ed25519", "rsa2048", "rsa4096", "x25519"];
// Sizes around the 64 KiB STREAM chunk boundary.
const sizes = [0, 1, 65536, 65537, 200_000];

describe("nixseal encrypts, age -d opens", () => {
  for (const name of names) {
    for (const armor of [false, true]) {
      it(`${name}${armor ? " (armored)" : ""}`, () => {
        for (const size of sizes) {
          const plaintext = randomBytes(size);
          const file = join(t.dir, `${name}.${size}.age`);
          writeFileSync(file, encrypt(plaintext, [recipients[name]!], { armor }));
          const r = age(["-d", "-i", keyFile(name), file]);
          expect(r.stderr).toBe("");
          expect(r.status).toBe(0);
          expect(r.stdout.equals(plaintext)).toBe(true);
        }
      });
    }
  }
});

describe("age encrypts, nixseal opens", () => {
  for (const name of names) {
    it(name, () => {
      const recipientArgs = name === "x25519" ? ["-r", x.recipient] : ["-R", keys[name]!.path + ".pub"];
      for (const size of sizes) {
        const plaintext = randomBytes(size);
        const r = age([...recipientArgs], plaintext);
        expect(r.status).toBe(0);
        expect(Buffer.from(decrypt(r.stdout, identities[name]!)).equals(plaintext)).toBe(true);
      }
      const armored = age(["-a", ...recipientArgs], "armored value");
      expect(Buffer.from(decrypt(armored.stdout, identities[name]!)).toString()).toBe("armored value");
    });
  }
});

describe("a file to several recipients opens with each key", () => {
  it("made by nixseal, opened by age with each key", () => {
    const plaintext = Buffer.from("shared secret\n");
    const file = join(t.dir, "multi.age");
    writeFileSync(file, encrypt(plaintext, names.map((n) => recipients[n]!)));
    for (const name of names) {
      const r = age(["-d", "-i", keyFile(name), file]);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.toString()).toBe("shared secret\n");
    }
  });
  it("made by age, opened by nixseal with each key", () => {
    const args = [...Object.values(keys).flatMap((k) => ["-R", k.path + ".pub"]), "-r", x.recipient];
    const r = age(args, "from age to all");
    expect(r.status).toBe(0);
    for (const name of names) expect(Buffer.from(decrypt(r.stdout, identities[name]!)).toString()).toBe("from age to all");
  });
});

describe("operator key formats made by ssh-keygen, used on files age wrote", () => {
  const cases: [string, "ed25519" | "rsa", { bits?: number; passphrase?: string; format?: "PEM" | "PKCS8" }][] = [
    ["ed25519 with passphrase", "ed25519", { passphrase: "correct horse" }],
    ["rsa 3072 with passphrase", "rsa", { bits: 3072, passphrase: "correct horse" }],
    ["rsa PEM (PKCS#1)", "rsa", { bits: 2048, format: "PEM" }],
    ["rsa PEM with passphrase", "rsa", { bits: 2048, format: "PEM", passphrase: "correct horse" }],
    ["rsa PKCS#8", "rsa", { bits: 2048, format: "PKCS8" }],
  ];
  for (const [label, type, opts] of cases) {
    it(label, async () => {
      const k = sshKeygen(t.dir, label.replace(/\W+/g, "_"), type, opts);
      let asked = 0;
      const ids = await parseIdentityFile(k.priv, k.path, {
        passphrase: async () => {
          asked++;
          return opts.passphrase ?? "";
        },
      });
      expect(asked).toBe(opts.passphrase ? 1 : 0);
      const r = age(["-R", k.path + ".pub"], "for an operator key");
      expect(Buffer.from(decrypt(r.stdout, ids)).toString()).toBe("for an operator key");
    });
  }
});

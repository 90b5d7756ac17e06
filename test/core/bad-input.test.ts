// Every bad-input case of the age layer, each a NixsealError with its stable code, a
// one-line message that holds no key or plaintext bytes, and a hint.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decrypt,
  encrypt,
  generateAgeIdentity,
  parseIdentityFile,
  parseRecipient,
  parseRecipientsFile,
  type Identity,
  type Recipient,
} from "../../core/age/index.js";
import { NixsealError } from "../../core/errors.js";
import { sshKeygen, tempDir, type KeyPair } from "./support.js";

const t = tempDir();
let ed: KeyPair;
let rsa: KeyPair;
let edR: Recipient;
let edIds: Identity[];
let rsaR: Recipient;
let rsaIds: Identity[];
const PLAINTEXT = Buffer.from("the-plaintext-value-" + randomBytes(8).toString("hex"));

beforeAll(async () => {
  ed = sshKeygen(t.dir, "ed", "ed25519");
  rsa = sshKeygen(t.dir, "rsa", "rsa", { bits: 2048 });
  edR = await parseRecipient(ed.pub);
  edIds = await parseIdentityFile(ed.priv, ed.path);
  rsaR = await parseRecipient(rsa.pub);
  rsaIds = await parseIdentityFile(rsa.priv, rsa.path);
}, 60_000);
afterAll(() => t.cleanup());

/** Runs fn, expects a NixsealError with this code, checks the message hygiene. */
async function expectError(code: string, fn: () => unknown): Promise<NixsealError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(NixsealError);
  const err = caught as NixsealError;
  expect(err.code).toBe(code);
  expect(err.message).not.toMatch(/\n/);
  // "no identity matched" lists the file's stanzas and the keys tried (public fingerprints)
  expect(err.message.length).toBeLessThan(code === "NIXSEAL_ERR_AGE_NO_IDENTITY" ? 600 : 200);
  expect(err.hints.length).toBeGreaterThan(0);
  for (const secret of [PLAINTEXT.toString(), ...[ed, rsa].flatMap((k) => [k.pub.split(" ")[1]!.slice(20, 60), k.priv.split("\n")[1]!.slice(0, 40)])]) {
    expect(err.message).not.toContain(secret);
    for (const h of err.hints) expect(h).not.toContain(secret);
  }
  return err;
}

/** Rewrites the header text of a binary age file (the payload stays as it is). */
function editHeader(file: Uint8Array, edit: (header: string) => string): Uint8Array {
  const buf = Buffer.from(file);
  const end = buf.indexOf("\n---") + 1;
  const macEnd = buf.indexOf("\n", end) + 1;
  return Buffer.concat([Buffer.from(edit(buf.subarray(0, end).toString("latin1")), "latin1"), buf.subarray(end, macEnd), buf.subarray(macEnd)]);
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64").replace(/=+$/, "");

describe("bad input to decrypt", () => {
  it("wrong key: an identity that matches no stanza", async () => {
    const other = sshKeygen(t.dir, "other", "ed25519");
    const file = encrypt(PLAINTEXT, [edR, rsaR]);
    await expectError("NIXSEAL_ERR_AGE_NO_IDENTITY", async () => decrypt(file, await parseIdentityFile(other.priv, other.path)));
    await expectError("NIXSEAL_ERR_AGE_NO_IDENTITY", async () => decrypt(file, await parseIdentityFile(generateAgeIdentity().identity, "x")));
    await expectError("NIXSEAL_ERR_AGE_NO_IDENTITY", () => decrypt(file, []));
  });

  it("tampered stanza body: the matching ssh identity refuses it", async () => {
    for (const [r, ids] of [[edR, edIds], [rsaR, rsaIds]] as const) {
      const file = editHeader(encrypt(PLAINTEXT, [r]), (h) => {
        const lines = h.split("\n");
        const body = lines[2]!;
        lines[2] = (body[0] === "A" ? "B" : "A") + body.slice(1);
        return lines.join("\n");
      });
      await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(file, ids));
    }
  });

  it("tampered header outside our stanza: the MAC catches it", async () => {
    const { recipient } = generateAgeIdentity();
    const file = editHeader(encrypt(PLAINTEXT, [await parseRecipient(recipient), edR]), (h) => h.replace(/^-> X25519 \S+$/m, `-> X25519 ${b64(randomBytes(32))}`));
    await expectError("NIXSEAL_ERR_AGE_HMAC", () => decrypt(file, edIds));
    // A grease stanza someone added after encryption.
    const added = editHeader(encrypt(PLAINTEXT, [edR]), (h) => `${h}-> grease x\n\n`);
    await expectError("NIXSEAL_ERR_AGE_HMAC", () => decrypt(added, edIds));
  });

  it("tampered payload: one flipped bit anywhere in the payload", async () => {
    const file = Buffer.from(encrypt(randomBytes(100_000), [edR]));
    for (const pos of [file.length - 1, file.length - 20, file.length - 40_000, Buffer.from(file).indexOf("\n---") + 60]) {
      const bad = Buffer.from(file);
      bad[pos]! ^= 0x01;
      await expectError("NIXSEAL_ERR_AGE_PAYLOAD", () => decrypt(bad, edIds));
    }
  });

  it("truncated file: cut in the payload, at a chunk boundary, in the nonce, in the header", async () => {
    const file = Buffer.from(encrypt(randomBytes(65536 * 2), [edR]));
    const headerEnd = file.indexOf("\n", file.indexOf("\n---") + 1) + 1;
    await expectError("NIXSEAL_ERR_AGE_PAYLOAD", () => decrypt(file.subarray(0, file.length - 1), edIds));
    await expectError("NIXSEAL_ERR_AGE_PAYLOAD", () => decrypt(file.subarray(0, headerEnd + 16 + 65552), edIds));
    await expectError("NIXSEAL_ERR_AGE_PAYLOAD", () => decrypt(file.subarray(0, headerEnd + 16), edIds));
    await expectError("NIXSEAL_ERR_AGE_HEADER", () => decrypt(file.subarray(0, headerEnd + 5), edIds));
    await expectError("NIXSEAL_ERR_AGE_HEADER", () => decrypt(file.subarray(0, headerEnd - 10), edIds));
    await expectError("NIXSEAL_ERR_AGE_HEADER", () => decrypt(new Uint8Array(0), edIds));
    // Armored and truncated.
    const armored = Buffer.from(encrypt(PLAINTEXT, [edR], { armor: true }));
    await expectError("NIXSEAL_ERR_AGE_ARMOR", () => decrypt(armored.subarray(0, armored.length - 20), edIds));
  });

  it("stanza with the wrong number of arguments", async () => {
    const edFile = encrypt(PLAINTEXT, [edR]);
    await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(editHeader(edFile, (h) => h.replace(/^(-> ssh-ed25519 \S+ \S+)$/m, "$1 extra")), edIds));
    await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(editHeader(edFile, (h) => h.replace(/^(-> ssh-ed25519 \S+) \S+$/m, "$1")), edIds));
    const rsaFile = encrypt(PLAINTEXT, [rsaR]);
    await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(editHeader(rsaFile, (h) => h.replace(/^(-> ssh-rsa \S+)$/m, "$1 extra")), rsaIds));
    const x = generateAgeIdentity();
    const xFile = encrypt(PLAINTEXT, [await parseRecipient(x.recipient)]);
    await expectError("NIXSEAL_ERR_AGE_STANZA", async () =>
      decrypt(editHeader(xFile, (h) => h.replace(/^(-> X25519 \S+)$/m, "$1 extra")), await parseIdentityFile(x.identity, "x")),
    );
  });

  it("a share that is not 32 bytes, or not base64", async () => {
    const edFile = encrypt(PLAINTEXT, [edR]);
    const withShare = (share: string) => editHeader(edFile, (h) => h.replace(/^(-> ssh-ed25519 \S+) \S+$/m, `$1 ${share}`));
    await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(withShare(b64(randomBytes(31))), edIds));
    await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(withShare(b64(randomBytes(33))), edIds));
    await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(withShare("not*base64!" + "A".repeat(32)), edIds));
    await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(withShare(b64(randomBytes(32)) + "=="), edIds));
  });

  it("a low-order share (all-zero X25519 result)", async () => {
    const edFile = encrypt(PLAINTEXT, [edR]);
    const x = generateAgeIdentity();
    const xIds = await parseIdentityFile(x.identity, "x");
    const xFile = encrypt(PLAINTEXT, [await parseRecipient(x.recipient)]);
    const zero = new Uint8Array(32);
    const one = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)); // order 4
    for (const share of [zero, one]) {
      await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(editHeader(edFile, (h) => h.replace(/^(-> ssh-ed25519 \S+) \S+$/m, `$1 ${b64(share)}`)), edIds));
      await expectError("NIXSEAL_ERR_AGE_STANZA", () => decrypt(editHeader(xFile, (h) => h.replace(/^(-> X25519) \S+$/m, `$1 ${b64(share)}`)), xIds));
    }
  });
});

describe("bad keys and recipient lists", () => {
  it("RSA key under 2048 bits, as recipient and as identity", async () => {
    const small = sshKeygen(t.dir, "rsa1024", "rsa", { bits: 1024 });
    const err = await expectError("NIXSEAL_ERR_RSA_KEY_TOO_SMALL", () => parseRecipient(small.pub, "hosts.txt:3"));
    expect(err.message).toContain("hosts.txt:3");
    expect(err.message).toContain("1024");
    await expectError("NIXSEAL_ERR_RSA_KEY_TOO_SMALL", () => parseIdentityFile(small.priv, small.path));
  });

  it("a public key line that is not an SSH key", async () => {
    await expectError("NIXSEAL_ERR_AGE_RECIPIENT", () => parseRecipient("hello world"));
    await expectError("NIXSEAL_ERR_AGE_RECIPIENT", () => parseRecipient("ssh-ed25519 not-base64!!"));
    await expectError("NIXSEAL_ERR_AGE_RECIPIENT", () => parseRecipient("ssh-ed25519 " + Buffer.from("garbage bytes").toString("base64")));
    await expectError("NIXSEAL_ERR_AGE_RECIPIENT", () => parseRecipient("ssh-rsa " + ed.pub.split(" ")[1]));
    await expectError("NIXSEAL_ERR_AGE_RECIPIENT", () => parseRecipient("age1notbech32"));
    await expectError("NIXSEAL_ERR_AGE_RECIPIENT", () => parseRecipient(generateAgeIdentity().identity));
    const ecdsa = sshKeygen(t.dir, "ecdsa", "ecdsa");
    await expectError("NIXSEAL_ERR_KEY_UNSUPPORTED", () => parseRecipient(ecdsa.pub));
    await expectError("NIXSEAL_ERR_KEY_UNSUPPORTED", () => parseIdentityFile(ecdsa.priv, ecdsa.path));
  });

  it("a private key with the wrong passphrase, or none to ask", async () => {
    for (const type of ["ed25519", "rsa"] as const) {
      const k = sshKeygen(t.dir, `pw-${type}`, type, { passphrase: "right one" });
      await expectError("NIXSEAL_ERR_KEY_PASSPHRASE", () => parseIdentityFile(k.priv, k.path, { passphrase: async () => "wrong one" }));
      await expectError("NIXSEAL_ERR_KEY_PASSPHRASE_REQUIRED", () => parseIdentityFile(k.priv, k.path));
      expect(await parseIdentityFile(k.priv, k.path, { passphrase: async () => "right one" })).toHaveLength(1);
    }
    const pem = sshKeygen(t.dir, "pw-pem", "rsa", { bits: 2048, format: "PEM", passphrase: "right one" });
    await expectError("NIXSEAL_ERR_KEY_PASSPHRASE", () => parseIdentityFile(pem.priv, pem.path, { passphrase: async () => "wrong one" }));
  });

  it("an empty recipients file", async () => {
    for (const text of ["", "\n\n", "# only comments\n  # and indented ones\n"]) {
      const err = await expectError("NIXSEAL_ERR_AGE_NO_RECIPIENTS", () => parseRecipientsFile(text, "recipients.txt"));
      expect(err.message).toContain("recipients.txt");
    }
    await expectError("NIXSEAL_ERR_AGE_NO_RECIPIENTS", () => encrypt(PLAINTEXT, []));
  });

  it("errors in a recipients file name the file and line", async () => {
    const err = await expectError("NIXSEAL_ERR_AGE_RECIPIENT", () => parseRecipientsFile(`${ed.pub}\n# ok\nnot a key\n`, "keys.txt"));
    expect(err.message).toMatch(/^keys\.txt:3: /);
  });

  it("identity files: public key given as identity, garbage, truncated key", async () => {
    await expectError("NIXSEAL_ERR_AGE_IDENTITY", () => parseIdentityFile(ed.pub, "id.pub"));
    await expectError("NIXSEAL_ERR_AGE_IDENTITY", () => parseIdentityFile("hello\n", "id.txt"));
    await expectError("NIXSEAL_ERR_AGE_IDENTITY", () => parseIdentityFile("", "id.txt"));
    await expectError("NIXSEAL_ERR_AGE_IDENTITY", () => parseIdentityFile("AGE-SECRET-KEY-1QQQQ\n", "id.txt"));
    const lines = ed.priv.split("\n");
    await expectError("NIXSEAL_ERR_KEY_INVALID", () => parseIdentityFile(lines.slice(0, 3).join("\n"), ed.path));
    await expectError("NIXSEAL_ERR_KEY_INVALID", () => parseIdentityFile([lines[0], lines[1]!.slice(0, 30), ...lines.slice(-2)].join("\n"), ed.path));
  });
});

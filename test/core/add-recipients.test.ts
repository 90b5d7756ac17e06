// addRecipients: more recipients for an existing age file, same file key and
// payload; the real age binary opens the result with old and new keys.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addRecipients,
  armor,
  encrypt,
  isArmored,
  parseHeader,
  parseIdentityFile,
  parseRecipient,
  unwrapWith,
  type Identity,
  type Recipient,
} from "../../core/index.js";
import { age, ageKeygen, sshKeygen, tempDir, type KeyPair } from "./support.js";

let t: { dir: string; cleanup: () => void };
let admin: { path: string; identity: string; recipient: string };
let web1: KeyPair;
let web2: KeyPair;
let stranger: KeyPair;
let adminIds: Identity[];
let r: { admin: Recipient; web1: Recipient; web2: Recipient; stranger: Recipient };
const value = Buffer.from("the value, 37 bytes long, give or take");

beforeAll(async () => {
  t = tempDir();
  admin = ageKeygen(t.dir, "admin.txt");
  web1 = sshKeygen(t.dir, "web1", "ed25519");
  web2 = sshKeygen(t.dir, "web2", "ed25519");
  stranger = sshKeygen(t.dir, "stranger", "ed25519");
  adminIds = await parseIdentityFile(admin.identity + "\n", "admin.txt");
  r = {
    admin: await parseRecipient(admin.recipient),
    web1: await parseRecipient(web1.pub),
    web2: await parseRecipient(web2.pub),
    stranger: await parseRecipient(stranger.pub),
  };
});
afterAll(() => t.cleanup());

const payload = (file: Uint8Array): Buffer => Buffer.from(file.subarray(parseHeader(file).payloadOffset));
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe("addRecipients", () => {
  it("adds a stanza per recipient; age opens the result with old and new keys, the payload and file key stay", async () => {
    const before = encrypt(value, [r.admin, r.web1]);
    const after = addRecipients(before, adminIds, [r.web2], { expected: [r.admin, r.web1] });
    expect(parseHeader(after).stanzas).toHaveLength(3);
    expect(payload(after).equals(payload(before))).toBe(true);
    const web1Ids = await parseIdentityFile(web1.priv, "web1");
    expect(Buffer.from(unwrapWith(parseHeader(after).stanzas, web1Ids))).toEqual(Buffer.from(unwrapWith(parseHeader(before).stanzas, web1Ids)));
    for (const key of [web2.path, web1.path, admin.path]) {
      const out = age(["-d", "-i", key], after);
      expect(out.stderr).toBe("");
      expect(out.stdout.equals(value)).toBe(true);
    }
    expect(age(["-d", "-i", stranger.path], after).status).not.toBe(0);
  });

  it("keeps armored input armored", () => {
    const before = Buffer.from(armor(encrypt(value, [r.admin])));
    const after = addRecipients(before, adminIds, [r.web1]);
    expect(isArmored(after)).toBe(true);
    expect(age(["-d", "-i", web1.path], after).stdout.equals(value)).toBe(true);
  });

  it("refuses what it cannot do safely, with the crypto core's codes", () => {
    const file = encrypt(value, [r.admin, r.web1]);
    expect(code(() => addRecipients(file, adminIds, []))).toBe("NIXSEAL_ERR_AGE_NO_RECIPIENTS");
    expect(code(() => addRecipients(file, adminIds, [r.web1]))).toBe("NIXSEAL_ERR_AGE_RECIPIENT");
    // The header does not hold what the caller believes: one stanza too many, or another key's.
    expect(code(() => addRecipients(file, adminIds, [r.web2], { expected: [r.admin] }))).toBe("NIXSEAL_ERR_AGE_HEADER");
    expect(code(() => addRecipients(file, adminIds, [r.web2], { expected: [r.admin, r.stranger] }))).toBe("NIXSEAL_ERR_AGE_HEADER");
    // Not ours, a forged header, a damaged payload: nothing comes out.
    expect(code(() => addRecipients(encrypt(value, [r.web1]), adminIds, [r.web2]))).toBe("NIXSEAL_ERR_AGE_NO_IDENTITY");
    const forged = Buffer.from(file);
    const macAt = parseHeader(file).macInput.length + 1; // first base64 character of the MAC
    forged[macAt] = forged[macAt] === 0x41 ? 0x42 : 0x41; // another valid, canonical character
    expect(code(() => addRecipients(forged, adminIds, [r.web2]))).toBe("NIXSEAL_ERR_AGE_HMAC");
    const damaged = Buffer.from(file);
    damaged[damaged.length - 1] ^= 0x01;
    expect(code(() => addRecipients(damaged, adminIds, [r.web2]))).toBe("NIXSEAL_ERR_AGE_PAYLOAD");
  });
});

// The CCTV age test vectors (npm cctv-age, C2SP): every vector of every feature
// nixseal implements (header, STREAM, armor, X25519). Each success vector must
// decrypt to its payload hash; each failure vector must fail with the matching
// kind of error. scrypt and the post-quantum hybrid type are not implemented:
// their failure vectors must still fail, their success vectors are listed as skipped.
import { createHash } from "node:crypto";
import { inflateSync } from "node:zlib";
import * as vectors from "cctv-age";
import { describe, expect, it } from "vitest";
import { X25519Identity, armor, dearmor, decrypt } from "../../core/age/index.js";
import { NixsealError } from "../../core/errors.js";

interface Vector {
  name: string;
  expect: string;
  payload?: string;
  identities: string[];
  armored: boolean;
  file: Uint8Array;
}

function parseVector(name: string, data: Uint8Array): Vector {
  const buf = Buffer.from(data);
  const split = buf.indexOf("\n\n");
  const meta = buf.subarray(0, split).toString("utf8").split("\n");
  const v: Vector = { name, expect: "", identities: [], armored: false, file: buf.subarray(split + 2) };
  let compressed = false;
  for (const line of meta) {
    const [key, value] = [line.slice(0, line.indexOf(": ")), line.slice(line.indexOf(": ") + 2)];
    if (key === "expect") v.expect = value;
    if (key === "payload") v.payload = value;
    if (key === "identity") v.identities.push(value);
    if (key === "armored") v.armored = value === "yes";
    if (key === "compressed") compressed = value === "zlib";
  }
  if (compressed) v.file = inflateSync(v.file);
  return v;
}

const all = Object.entries(vectors as Record<string, Uint8Array>)
  .filter(([name, data]) => name !== "default" && data instanceof Uint8Array)
  .map(([name, data]) => parseVector(name, data));

// Vectors of the scrypt and hybrid recipient types (named so by CCTV).
const unimplemented = (v: Vector) => /^(scrypt|hybrid|armor_scrypt|armor_hybrid)/.test(v.name);
const implemented = all.filter((v) => !unimplemented(v));
const other = all.filter(unimplemented);

const expectedCodes: Record<string, string[]> = {
  "header failure": ["NIXSEAL_ERR_AGE_HEADER", "NIXSEAL_ERR_AGE_STANZA"],
  "no match": ["NIXSEAL_ERR_AGE_NO_IDENTITY"],
  "HMAC failure": ["NIXSEAL_ERR_AGE_HMAC"],
  "payload failure": ["NIXSEAL_ERR_AGE_PAYLOAD"],
  "armor failure": ["NIXSEAL_ERR_AGE_ARMOR"],
};

function errorOf(fn: () => unknown): NixsealError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NixsealError);
    return err as NixsealError;
  }
  throw new Error("expected a failure, got success");
}

describe("CCTV age vectors", () => {
  it("the package holds the vectors this suite expects", () => {
    expect(all.length).toBeGreaterThanOrEqual(140);
    expect(implemented.length).toBeGreaterThanOrEqual(95);
    expect(implemented.filter((v) => v.armored).length).toBeGreaterThanOrEqual(28);
  });

  for (const v of implemented) {
    it(`${v.name}: ${v.expect}`, () => {
      const ids = v.identities.filter((i) => i.startsWith("AGE-SECRET-KEY-1")).map((i) => new X25519Identity(i));
      if (v.expect === "success") {
        const out = decrypt(v.file, ids);
        expect(createHash("sha256").update(out).digest("hex")).toBe(v.payload);
        return;
      }
      const err = errorOf(() => decrypt(v.file, ids));
      expect(expectedCodes[v.expect], `unknown expectation ${v.expect}`).toBeDefined();
      expect(expectedCodes[v.expect]).toContain(err.code);
      // One line, and no key material: the identity never shows up in a message.
      expect(err.message).not.toContain("\n");
      for (const id of v.identities) expect(err.message).not.toContain(id);
    });
  }

  // Armor vectors also go through dearmor alone: armor failures fail there,
  // every other armored vector dearmors cleanly.
  for (const v of implemented.filter((x) => x.armored)) {
    it(`dearmor ${v.name}`, () => {
      if (v.expect === "armor failure") expect(errorOf(() => dearmor(v.file)).code).toBe("NIXSEAL_ERR_AGE_ARMOR");
      else {
        // Round trip: our armor of the decoded bytes decodes to the same bytes.
        const bin = dearmor(v.file);
        expect(Buffer.from(dearmor(armor(bin))).equals(Buffer.from(bin))).toBe(true);
      }
    });
  }
});

describe("CCTV vectors of features nixseal does not implement (scrypt, hybrid)", () => {
  const failures = other.filter((v) => v.expect !== "success");
  it("each failure vector fails", () => {
    expect(failures.length).toBeGreaterThan(20);
    for (const v of failures) {
      const ids = v.identities.filter((i) => i.startsWith("AGE-SECRET-KEY-1")).map((i) => new X25519Identity(i));
      expect(() => decrypt(v.file, ids), v.name).toThrow(NixsealError);
    }
  });
  it.skip.each(other.filter((v) => v.expect === "success").map((v) => v.name))("%s (success vector of an unimplemented type)", () => {});
});

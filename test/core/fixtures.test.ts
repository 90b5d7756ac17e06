// Checked-in files made by the Go age binary (test/fixtures/interop) open with
// nixseal, each with every key the manifest names; no age binary needed.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decrypt, isArmored, parseIdentityFile, type Identity } from "../../core/age/index.js";

const root = join(import.meta.dirname, "../fixtures");
const manifest = JSON.parse(readFileSync(join(root, "interop/manifest.json"), "utf8")) as Record<
  string,
  { size: number; sha256: string; armored: boolean; keys: string[] }
>;

async function identity(name: string): Promise<Identity[]> {
  const path = join(root, "keys", name);
  return parseIdentityFile(readFileSync(path), path, { passphrase: async () => "nixseal test passphrase" });
}

describe("age-made fixtures", () => {
  it("the manifest covers every key type", () => {
    const keys = new Set(Object.values(manifest).flatMap((m) => m.keys));
    expect([...keys].sort()).toEqual(["ed25519", "ed25519-passphrase", "rsa2048", "rsa4096", "x25519.txt"]);
  });
  for (const [file, m] of Object.entries(manifest)) {
    it(`${file} (${m.size} bytes) opens with ${m.keys.join(", ")}`, async () => {
      const data = readFileSync(join(root, "interop", file));
      expect(isArmored(data)).toBe(m.armored);
      for (const key of m.keys) {
        const out = decrypt(data, await identity(key));
        expect(out.length).toBe(m.size);
        expect(createHash("sha256").update(out).digest("hex")).toBe(m.sha256);
      }
    });
  }
});

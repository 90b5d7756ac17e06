// The sealed generation: when the agent stores a generation it has just decrypted
// whole (stage, import, image baking), it also keeps every plaintext of it in one age
// file, `.sealed.age`, encrypted to the host's own SSH key. The boot restore then opens
// one file (two X25519) instead of one per secret (two X25519 each): most of a large
// restore's CPU.
//
// At rest it is what the per-secret files are: age (X25519 + ChaCha20-Poly1305) to a
// host key, readable with that key only, in the root-only 0700 generation dir; with
// fewer recipients (the host, not the admins). The per-secret .age files stay the
// source: the seal names the manifest id and each secret's name and ciphertext
// sha256, and is used only when all of them match the generation it sits in; each
// secret's own file is still read and checked at boot, so a damaged one is reported
// and skipped exactly as without a seal. A seal that is missing, damaged or for
// another manifest is ignored, and the restore decrypts secret by secret.
//
// Container (the age file's plaintext; values stay in buffers, never in JS strings):
//   "nixseal-sealed/v1\n" | manifest id (64 hex) "\n" | u32 count |
//   count x ( u16 name length | name | 32-byte sha256 of the .age file | u32 length | plaintext )
import { join } from "node:path";
import { decrypt, type Identity } from "../../core/age/decrypt.js";
import { NixsealError } from "../../core/errors.js";
import type { BundleManifest } from "../../core/schema/bundle.js";
import { BUNDLE_LIMITS } from "../../core/schema/limits.js";
import { GENERATION_SEAL, readRegularFile } from "./bundle-dir.js";

const MAGIC = Buffer.from("nixseal-sealed/v1\n");
const ID_LENGTH = 64;

type SealedSecret = Pick<BundleManifest["secrets"][number], "name" | "sha256">;
/** What a seal is bound to: the manifest id and each secret's name and ciphertext sha256, in order. */
type SealedManifest = { id: string; secrets: readonly SealedSecret[] };

/**
 * Packs a generation's plaintexts, in manifest order, into the seal's container.
 *
 * @returns a fresh buffer; the caller zeroes it once it is encrypted
 */
export function packSeal(id: string, secrets: readonly SealedSecret[], plaintexts: readonly Uint8Array[]): Buffer {
  if (id.length !== ID_LENGTH || secrets.length !== plaintexts.length) throw new Error("packSeal: id or counts do not fit");
  const names = secrets.map((s) => Buffer.from(s.name, "utf8"));
  let size = MAGIC.length + ID_LENGTH + 1 + 4;
  secrets.forEach((_, k) => (size += 2 + names[k]!.length + 32 + 4 + plaintexts[k]!.length));
  const out = Buffer.alloc(size);
  let off = MAGIC.copy(out, 0);
  off += out.write(`${id}\n`, off, "latin1");
  off = out.writeUInt32BE(secrets.length, off);
  secrets.forEach((s, k) => {
    off = out.writeUInt16BE(names[k]!.length, off);
    off += names[k]!.copy(out, off);
    off += out.write(s.sha256, off, "hex");
    off = out.writeUInt32BE(plaintexts[k]!.length, off);
    out.set(plaintexts[k]!, off);
    off += plaintexts[k]!.length;
  });
  return out;
}

/**
 * The plaintexts of an opened seal, in manifest order (views into `container`), when
 * it is the seal of exactly this manifest: same id, same secrets in the same order,
 * each with the sha256 its .age file has in the manifest.
 *
 * @returns the plaintexts, or why the seal does not fit (never a value)
 */
export function unpackSeal(container: Uint8Array, manifest: SealedManifest): Uint8Array[] | string {
  const buf = Buffer.from(container.buffer, container.byteOffset, container.byteLength);
  const head = MAGIC.length + ID_LENGTH + 1 + 4;
  if (buf.length < head || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return "not a nixseal seal";
  if (buf.toString("latin1", MAGIC.length, MAGIC.length + ID_LENGTH + 1) !== `${manifest.id}\n`) return "sealed for another manifest";
  let off = MAGIC.length + ID_LENGTH + 1;
  if (buf.readUInt32BE(off) !== manifest.secrets.length) return "sealed for another set of secrets";
  off += 4;
  const out: Uint8Array[] = [];
  for (const s of manifest.secrets) {
    if (off + 2 > buf.length) return "truncated";
    const nameLength = buf.readUInt16BE(off);
    off += 2;
    if (off + nameLength + 32 + 4 > buf.length) return "truncated";
    if (buf.toString("utf8", off, off + nameLength) !== s.name) return "sealed for another set of secrets";
    off += nameLength;
    if (buf.toString("hex", off, off + 32) !== s.sha256) return `secret '${s.name}' was sealed from another ciphertext`;
    off += 32;
    const length = buf.readUInt32BE(off);
    off += 4;
    if (off + length > buf.length) return "truncated";
    out.push(buf.subarray(off, off + length));
    off += length;
  }
  return off === buf.length ? out : "trailing data";
}

/** An opened seal: the container (zero it when done) and its plaintexts as views into it. */
export interface OpenedSeal {
  container: Uint8Array;
  plaintexts: Uint8Array[];
}

/**
 * Opens the seal of the generation in `dir` for `manifest` with the host's keys.
 *
 * @returns the opened seal; undefined when the generation has none; or why it cannot be used
 */
export function openSeal(dir: string, manifest: SealedManifest, identities: readonly Identity[]): OpenedSeal | { problem: string } | undefined {
  let sealed: Uint8Array;
  try {
    // the plaintexts are shorter than their .age files; names and sha256s fit in a manifest's size
    sealed = readRegularFile(join(dir, GENERATION_SEAL), BUNDLE_LIMITS.totalBytes + BUNDLE_LIMITS.manifestBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return { problem: err instanceof NixsealError ? err.message : `cannot read ${GENERATION_SEAL}: ${(err as NodeJS.ErrnoException).code ?? "error"}` };
  }
  let container: Uint8Array;
  try {
    container = decrypt(sealed, identities);
  } catch (err) {
    return { problem: `${GENERATION_SEAL} does not open with this host's keys: ${err instanceof NixsealError ? err.message : "not a valid age file"}` };
  }
  const plaintexts = unpackSeal(container, manifest);
  if (typeof plaintexts === "string") {
    container.fill(0);
    return { problem: `${GENERATION_SEAL}: ${plaintexts}` };
  }
  return { container, plaintexts };
}

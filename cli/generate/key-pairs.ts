// Key pairs for `--generate ssh-ed25519|wireguard`. The private half is the secret's
// value; the public half is not secret and is kept in nixseal.json.
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { createRequire } from "node:module";

/** The PKCS#8 DER prefix of a raw X25519 private key (RFC 8410): the 32 bytes follow. */
const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");

interface KeyPair {
  /** What the host gets: the private key file's contents. */
  value: Buffer;
  /** The public half, as the tool that uses it prints it. */
  public: string;
}

/**
 * An ed25519 SSH key pair: the private key in OpenSSH's format (what ssh-keygen
 * writes; ssh2 serialises it), the public key as an authorized_keys line.
 *
 * @param comment - the key's comment (the secret name)
 */
export function sshEd25519KeyPair(comment: string): KeyPair {
  // ssh2 (already the SSH client here) costs ~70 ms to load: only for this generator.
  const { utils } = createRequire(import.meta.url)("ssh2") as { utils: { generateKeyPairSync(type: "ed25519", opts: { comment: string }): { private: string; public: string } } };
  const pair = utils.generateKeyPairSync("ed25519", { comment });
  return { value: Buffer.from(pair.private.endsWith("\n") ? pair.private : `${pair.private}\n`), public: pair.public.trim() };
}

/**
 * A WireGuard key pair as `wg genkey | tee priv | wg pubkey` makes it: 32 random
 * bytes clamped for X25519, base64 with a newline; the public key is X25519 of it
 * (node:crypto), base64.
 */
export function wireguardKeyPair(): KeyPair {
  const d = randomBytes(32);
  // The clamping wg genkey applies (RFC 7748 decodeScalar25519), so the file is byte-for-byte what wg writes.
  d[0]! &= 248;
  d[31]! &= 127;
  d[31]! |= 64;
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, d]), format: "der", type: "pkcs8" });
  const x = createPublicKey(key).export({ format: "jwk" }).x!;
  const value = Buffer.from(`${d.toString("base64")}\n`);
  d.fill(0);
  return { value, public: Buffer.from(x, "base64url").toString("base64") };
}

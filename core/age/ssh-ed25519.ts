// age's ssh-ed25519 recipient type (AGE-SSH.md): `-> ssh-ed25519 <tag> <share>`.
// Note: the tag reveals which SSH key a file is for.
//
// Per recipient we precompute the tweak and the combined point
// X25519(tweak, pkM) once: X25519 with clamped scalars commutes, so
// X25519(tweak, X25519(e, pkM)) = X25519(e, X25519(tweak, pkM)) and each wrap
// costs one ephemeral key plus one X25519.
import { createHash, type KeyObject } from "node:crypto";
import { decodeB64, encodeB64 } from "./base64.js";
import { ed25519PublicToX25519 } from "./ed25519-to-x25519.js";
import { recipientError, stanzaError } from "./errors.js";
import { aeadOpen, ephemeral, hkdf, x25519, x25519PrivateKey, x25519PublicBytes, x25519PublicKey } from "./primitives.js";
import { sshTag } from "./ssh-tag.js";
import { sealFileKey } from "./seal-file-key.js";
import type { Identity, Recipient, Stanza } from "./types.js";
import { canonicalSshLine, parseSshPublicKey, sshKeyFingerprint, type SshEd25519PublicKey } from "../keys/ssh-public.js";
import type { SshEd25519PrivateKey } from "../keys/ssh-private.js";

/** HKDF info of both the tweak and the wrapping key. */
export const SSH_ED25519_LABEL = "age-encryption.org/v1/ssh-ed25519";
const TYPE = "ssh-ed25519";

// The reference (age's agessh) calls hkdf.New(sha256.New, nil, sshKey, label):
// the key's wire blob is the HKDF *salt* and the input key material is empty.
function tweakScalar(wire: Uint8Array): Uint8Array {
  return hkdf(new Uint8Array(0), wire, SSH_ED25519_LABEL);
}

/** An ssh-ed25519 recipient with its per-key precomputation done. */
export class SshEd25519Recipient implements Recipient {
  /** The SSH public key (wire blob, Ed25519 key, comment). */
  readonly sshKey: SshEd25519PublicKey;
  /** The recipient's X25519 (Montgomery) public key. */
  readonly pkM: Uint8Array;
  /** The stanza tag. */
  readonly tag: string;
  private readonly combined: KeyObject;

  /**
   * Prefer {@link SshEd25519Recipient.fromLine}; this takes the Montgomery key
   * already converted (an identity knows it without libsodium).
   */
  constructor(sshKey: SshEd25519PublicKey, pkM: Uint8Array) {
    this.sshKey = sshKey;
    this.pkM = Uint8Array.from(pkM);
    this.tag = sshTag(sshKey.wire);
    const combined = x25519(x25519PrivateKey(tweakScalar(sshKey.wire)), x25519PublicKey(this.pkM));
    if (combined === null) throw recipientError("the ssh-ed25519 key is a low-order point");
    this.combined = x25519PublicKey(combined);
  }

  /**
   * Parses `ssh-ed25519 AAAA… [comment]` and converts the key (libsodium).
   *
   * @throws NixsealError NIXSEAL_ERR_AGE_RECIPIENT for a malformed line or an invalid curve point
   */
  static async fromLine(line: string, source?: string): Promise<SshEd25519Recipient> {
    const key = parseSshPublicKey(line, source);
    if (key.type !== TYPE) throw recipientError(`expected an ssh-ed25519 key, got ${key.type}`, source);
    const pkM = await ed25519PublicToX25519(key.key);
    if (pkM === null) throw recipientError("the ssh-ed25519 key is not a valid curve point", source);
    return new SshEd25519Recipient(key, pkM);
  }

  /** Wraps the file key for this SSH key. */
  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const e = ephemeral();
    const shared = x25519(e.key, this.combined);
    if (shared === null) throw recipientError("the ssh-ed25519 key is a low-order point");
    const salt = Buffer.concat([e.share, this.pkM]);
    const body = sealFileKey(hkdf(shared, salt, SSH_ED25519_LABEL), fileKey);
    return [{ args: [TYPE, this.tag, encodeB64(e.share)], body }];
  }

  /** `ssh-ed25519 AAAA…` (no comment). */
  toString(): string {
    return canonicalSshLine(this.sshKey);
  }
}

/** An ssh-ed25519 identity (a host key or an operator's key). */
export class SshEd25519Identity implements Identity {
  readonly sshKey: SshEd25519PublicKey;
  readonly tag: string;
  /** X25519(scalar, 9): the Montgomery public key, derived without libsodium. */
  readonly pkM: Uint8Array;
  private readonly scalar: KeyObject;
  private readonly tweak: KeyObject;

  /** @param key - a parsed ssh-ed25519 private key */
  constructor(key: SshEd25519PrivateKey) {
    this.sshKey = key.publicKey;
    this.tag = sshTag(key.publicKey.wire);
    // libsodium's crypto_sign_ed25519_sk_to_curve25519: SHA-512(seed)[0..32], clamped on use.
    this.scalar = x25519PrivateKey(createHash("sha512").update(key.seed).digest().subarray(0, 32));
    this.pkM = x25519PublicBytes(this.scalar);
    this.tweak = x25519PrivateKey(tweakScalar(key.publicKey.wire));
  }

  /** `ssh-ed25519 SHA256:… (tag …)`: the public key's fingerprint and its stanza tag. */
  describe(): string {
    return `${TYPE} ${sshKeyFingerprint(this.sshKey)} (tag ${this.tag})`;
  }

  /** The recipient this identity opens. */
  recipient(): SshEd25519Recipient {
    return new SshEd25519Recipient(this.sshKey, this.pkM);
  }

  /**
   * Opens the stanza tagged for this key; null when none is.
   *
   * @throws NixsealError NIXSEAL_ERR_AGE_STANZA when the tagged stanza is malformed or does not open
   */
  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const s of stanzas) {
      if (s.args[0] !== TYPE || s.args[1] !== this.tag) continue;
      if (s.args.length !== 3) throw stanzaError(TYPE, `expected 2 arguments, got ${s.args.length - 1}`);
      const share = decodeB64(s.args[2]!);
      if (share === null || share.length !== 32) throw stanzaError(TYPE, "the share is not 32 bytes of canonical base64");
      if (s.body.length !== 32) throw stanzaError(TYPE, "the wrapped file key is not 16 bytes");
      const first = x25519(this.scalar, x25519PublicKey(share));
      if (first === null) throw stanzaError(TYPE, "the share is a low-order point");
      const shared = x25519(this.tweak, x25519PublicKey(first));
      if (shared === null) throw stanzaError(TYPE, "the share is a low-order point");
      const salt = Buffer.concat([share, this.pkM]);
      const fileKey = aeadOpen(hkdf(shared, salt, SSH_ED25519_LABEL), s.body);
      if (fileKey === null) throw stanzaError(TYPE, "the wrapped file key does not authenticate");
      return fileKey;
    }
    return null;
  }
}

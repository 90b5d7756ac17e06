// age's native X25519 recipient type: `age1…` recipients, `AGE-SECRET-KEY-1…`
// identities, stanza `-> X25519 <share>`.
import { randomBytes, type KeyObject } from "node:crypto";
import { bech32Decode, bech32Encode } from "./bech32.js";
import { decodeB64, encodeB64 } from "./base64.js";
import { identityError, recipientError, stanzaError } from "./errors.js";
import { aeadOpen, ephemeral, hkdf, x25519, x25519PrivateKey, x25519PublicBytes, x25519PublicKey } from "./primitives.js";
import { sealFileKey } from "./seal-file-key.js";
import type { Identity, Recipient, Stanza } from "./types.js";

/** HKDF info of the X25519 wrapping key. */
const X25519_LABEL = "age-encryption.org/v1/X25519";
const RECIPIENT_HRP = "age";
const IDENTITY_HRP = "AGE-SECRET-KEY-";

/** An `age1…` recipient. */
export class X25519Recipient implements Recipient {
  /** The 32-byte X25519 public key. */
  readonly publicKey: Uint8Array;
  private readonly key: KeyObject;

  /**
   * @param recipient - `age1…` (bech32) or the raw 32-byte public key
   * @throws NixsealError NIXSEAL_ERR_AGE_RECIPIENT when it is not a valid age1 recipient
   */
  constructor(recipient: string | Uint8Array, source?: string) {
    if (typeof recipient === "string") {
      const dec = bech32Decode(recipient);
      if (dec === null || dec.hrp !== RECIPIENT_HRP || dec.data.length !== 32) {
        throw recipientError("not a valid age1… recipient", source);
      }
      this.publicKey = dec.data;
    } else {
      this.publicKey = Uint8Array.from(recipient);
    }
    this.key = x25519PublicKey(this.publicKey);
  }

  /** Wraps the file key: `-> X25519 <share>` and a 32-byte body. */
  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const e = ephemeral();
    const shared = x25519(e.key, this.key);
    if (shared === null) throw recipientError("the age1 recipient is a low-order point");
    const salt = Buffer.concat([e.share, this.publicKey]);
    const body = sealFileKey(hkdf(shared, salt, X25519_LABEL), fileKey);
    return [{ args: ["X25519", encodeB64(e.share)], body }];
  }

  /** The `age1…` string. */
  toString(): string {
    return bech32Encode(RECIPIENT_HRP, this.publicKey);
  }
}

/** An `AGE-SECRET-KEY-1…` identity. */
export class X25519Identity implements Identity {
  private readonly key: KeyObject;
  /** The matching public key. */
  readonly publicKey: Uint8Array;

  /**
   * @param identity - `AGE-SECRET-KEY-1…` or the raw 32-byte scalar
   * @throws NixsealError NIXSEAL_ERR_AGE_IDENTITY when it is not a valid age secret key
   */
  constructor(identity: string | Uint8Array, source?: string) {
    let scalar: Uint8Array;
    if (typeof identity === "string") {
      const dec = bech32Decode(identity);
      if (dec === null || dec.hrp !== IDENTITY_HRP || dec.data.length !== 32) {
        throw identityError("not a valid AGE-SECRET-KEY-1… identity", source);
      }
      scalar = dec.data;
    } else {
      scalar = identity;
    }
    this.key = x25519PrivateKey(scalar);
    this.publicKey = x25519PublicBytes(this.key);
  }

  /** `X25519 age1…`: the public recipient of this identity. */
  describe(): string {
    return `X25519 ${bech32Encode(RECIPIENT_HRP, this.publicKey)}`;
  }

  /** The recipient this identity opens. */
  recipient(): X25519Recipient {
    return new X25519Recipient(this.publicKey);
  }

  /**
   * Opens the first X25519 stanza whose body authenticates under this key.
   * Per age, a body that does not open is "not mine" (null): X25519 stanzas
   * carry no key tag.
   *
   * @throws NixsealError NIXSEAL_ERR_AGE_STANZA for a malformed X25519 stanza or a low-order share
   */
  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const s of stanzas) {
      if (s.args[0] !== "X25519") continue;
      if (s.args.length !== 2) throw stanzaError("X25519", `expected 1 argument, got ${s.args.length - 1}`);
      const share = decodeB64(s.args[1]!);
      if (share === null || share.length !== 32) throw stanzaError("X25519", "the share is not 32 bytes of canonical base64");
      if (s.body.length !== 32) throw stanzaError("X25519", "the wrapped file key is not 16 bytes");
      const shared = x25519(this.key, x25519PublicKey(share));
      if (shared === null) throw stanzaError("X25519", "the share is a low-order point");
      const salt = Buffer.concat([share, this.publicKey]);
      const fileKey = aeadOpen(hkdf(shared, salt, X25519_LABEL), s.body);
      if (fileKey !== null) return fileKey;
    }
    return null;
  }
}

/**
 * A fresh X25519 identity and its recipient.
 *
 * @returns `AGE-SECRET-KEY-1…` and `age1…`
 */
export function generateX25519(): { identity: string; recipient: string } {
  const scalar = randomBytes(32);
  const id = new X25519Identity(scalar);
  return { identity: bech32Encode(IDENTITY_HRP, scalar), recipient: id.recipient().toString() };
}

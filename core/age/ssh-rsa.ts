// age's ssh-rsa recipient type (AGE-SSH.md): `-> ssh-rsa <tag>`, body =
// RSA-OAEP-SHA256 with a label. Keys under 2048 bits are refused.
// Note: the tag reveals which SSH key a file is for.
import { constants, privateDecrypt, publicEncrypt, type KeyObject } from "node:crypto";
import { recipientError, rsaTooSmallError, stanzaError } from "./errors.js";
import { sshTag } from "./ssh-tag.js";
import type { Identity, Recipient, Stanza } from "./types.js";
import { canonicalSshLine, MIN_RSA_BITS, parseSshPublicKey, rsaPublicKeyObject, sshKeyFingerprint, type SshRsaPublicKey } from "../keys/ssh-public.js";
import type { SshRsaPrivateKey } from "../keys/ssh-private.js";

/** The OAEP label. */
const SSH_RSA_LABEL = "age-encryption.org/v1/ssh-rsa";
const TYPE = "ssh-rsa";
const LABEL = Buffer.from(SSH_RSA_LABEL);

/** An ssh-rsa recipient. */
export class SshRsaRecipient implements Recipient {
  readonly sshKey: SshRsaPublicKey;
  readonly tag: string;
  private readonly key: KeyObject;

  /** @throws NixsealError NIXSEAL_ERR_RSA_KEY_TOO_SMALL under 2048 bits */
  constructor(sshKey: SshRsaPublicKey, source?: string) {
    if (sshKey.bits < MIN_RSA_BITS) throw rsaTooSmallError(sshKey.bits, source);
    this.sshKey = sshKey;
    this.tag = sshTag(sshKey.wire);
    this.key = rsaPublicKeyObject(sshKey);
  }

  /**
   * Parses `ssh-rsa AAAA… [comment]`.
   *
   * @throws NixsealError NIXSEAL_ERR_AGE_RECIPIENT, NIXSEAL_ERR_RSA_KEY_TOO_SMALL
   */
  static fromLine(line: string, source?: string): SshRsaRecipient {
    const key = parseSshPublicKey(line, source);
    if (key.type !== TYPE) throw recipientError(`expected an ssh-rsa key, got ${key.type}`, source);
    return new SshRsaRecipient(key, source);
  }

  /** Wraps the file key with RSA-OAEP. */
  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const body = publicEncrypt(
      { key: this.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: LABEL },
      fileKey,
    );
    return [{ args: [TYPE, this.tag], body }];
  }

  /** `ssh-rsa AAAA…` (no comment). */
  toString(): string {
    return canonicalSshLine(this.sshKey);
  }
}

/** An ssh-rsa identity. */
export class SshRsaIdentity implements Identity {
  readonly sshKey: SshRsaPublicKey;
  readonly tag: string;
  private readonly key: KeyObject;

  /** @throws NixsealError NIXSEAL_ERR_RSA_KEY_TOO_SMALL under 2048 bits */
  constructor(key: SshRsaPrivateKey, source?: string) {
    if (key.publicKey.bits < MIN_RSA_BITS) throw rsaTooSmallError(key.publicKey.bits, source);
    this.sshKey = key.publicKey;
    this.tag = sshTag(key.publicKey.wire);
    this.key = key.privateKey;
  }

  /** `ssh-rsa SHA256:… (tag …)`: the public key's fingerprint and its stanza tag. */
  describe(): string {
    return `${TYPE} ${sshKeyFingerprint(this.sshKey)} (tag ${this.tag})`;
  }

  /** The recipient this identity opens. */
  recipient(): SshRsaRecipient {
    return new SshRsaRecipient(this.sshKey);
  }

  /**
   * Opens the stanza tagged for this key; null when none is.
   *
   * @throws NixsealError NIXSEAL_ERR_AGE_STANZA when the tagged stanza is malformed or does not open
   */
  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const s of stanzas) {
      if (s.args[0] !== TYPE || s.args[1] !== this.tag) continue;
      if (s.args.length !== 2) throw stanzaError(TYPE, `expected 1 argument, got ${s.args.length - 1}`);
      let fileKey: Buffer;
      try {
        fileKey = privateDecrypt(
          { key: this.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: LABEL },
          s.body,
        );
      } catch {
        throw stanzaError(TYPE, "the wrapped file key does not decrypt");
      }
      if (fileKey.length !== 16) throw stanzaError(TYPE, "the wrapped file key is not 16 bytes");
      return fileKey;
    }
    return null;
  }
}

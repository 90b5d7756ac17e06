// The stanza/recipient/identity shapes, structurally the same as
// age-encryption's, so our types plug into its Encrypter/Decrypter and back.

/** One header stanza; structurally the same as age-encryption's Stanza. */
export interface Stanza {
  readonly args: string[];
  readonly body: Uint8Array;
}
/** Structurally compatible with age-encryption's Recipient (sync here, for speed). */
export interface Recipient {
  wrapFileKey(fileKey: Uint8Array): Stanza[];
}
/** Structurally compatible with age-encryption's Identity: null = not mine, throw = mine but broken. */
export interface Identity {
  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null;
  /**
   * What a person can compare when nothing opens: the key type and a public
   * fingerprint (never private bytes). Optional: age-encryption's identities lack it.
   */
  describe?(): string;
}

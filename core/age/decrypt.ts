// The decrypt side of the crypto core, for the agent's boot restore (main thread and
// decrypt worker). index.ts is the full API; importing it also loads the recipient
// side (X25519 recipients, bech32, the identity-file dispatcher), which a host that
// only opens its own files never uses: every module is paid at every boot.
import { decryptFile } from "./format.js";
import { SshEd25519Identity } from "./ssh-ed25519.js";
import { SshRsaIdentity } from "./ssh-rsa.js";
import type { Identity } from "./types.js";
import { looksLikePrivateKey, parseSshPrivateKey } from "../keys/ssh-private.js";

export type { Identity } from "./types.js";

/**
 * Decrypts a whole age file in memory (same as index.ts `decrypt`); returns plaintext
 * only after every chunk authenticated.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_ARMOR, _HEADER, _STANZA, _NO_IDENTITY, _HMAC, _PAYLOAD
 */
export function decrypt(ciphertext: Uint8Array, identities: readonly Identity[]): Uint8Array {
  return decryptFile(ciphertext, identities);
}

/**
 * A host's identity file, as index.ts `parseIdentityFile` reads it without a
 * passphrase: SSH private keys are built here; anything else (an AGE-SECRET-KEY file)
 * goes through the full parser, loaded only then.
 *
 * @param data - file contents
 * @param file - file name, for messages
 * @throws NixsealError as parseIdentityFile
 */
export async function parseHostIdentityFile(data: string | Uint8Array, file: string): Promise<Identity[]> {
  const text = typeof data === "string" ? data : Buffer.from(data).toString("utf8");
  if (!looksLikePrivateKey(text)) return (await import("./parse.js")).parseIdentityText(data, file);
  const key = await parseSshPrivateKey(text, file);
  return [key.type === "ssh-ed25519" ? new SshEd25519Identity(key) : new SshRsaIdentity(key, file)];
}

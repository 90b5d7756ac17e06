// The 4-byte key tag both SSH stanza types carry: SHA-256 of the public key's
// wire blob, truncated, unpadded base64. It lets an identity skip stanzas for
// other keys, and it is why an observer can tell which key a file is for.
import { createHash } from "node:crypto";
import { encodeB64 } from "./base64.js";

/** The stanza tag of an SSH public key wire blob. */
export function sshTag(wire: Uint8Array): string {
  return encodeB64(createHash("sha256").update(wire).digest().subarray(0, 4));
}

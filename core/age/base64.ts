// age's base64: standard alphabet, no padding, canonical (the one encoding of
// the bytes). Node's decoder is lenient, so every decode is checked by
// re-encoding.

const B64_CHARS = /^[A-Za-z0-9+/]*$/;

/** Encodes bytes as unpadded standard base64. */
export function encodeB64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64").replace(/=+$/, "");
}

/**
 * Decodes unpadded canonical base64; null when the text is not exactly that.
 *
 * @param text - base64 without padding
 * @returns the bytes, or null
 */
export function decodeB64(text: string): Uint8Array | null {
  const rest = text.length % 4;
  if (!B64_CHARS.test(text) || rest === 1) return null;
  // Canonical means the unused low bits of the last character are zero (4 of
  // them after 2 characters, 2 after 3); checked here rather than by
  // re-encoding, which cost more than the decode (headers hold many stanzas).
  if (rest !== 0 && (ALPHABET.indexOf(text[text.length - 1]!) & (rest === 2 ? 0x0f : 0x03)) !== 0) return null;
  return Buffer.from(text, "base64");
}
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * Decodes padded canonical base64 (used by armor); null otherwise.
 *
 * @param text - base64 with `=` padding to a multiple of 4
 */
export function decodeB64Padded(text: string): Uint8Array | null {
  if (text.length % 4 !== 0) return null;
  const body = text.replace(/={1,2}$/, "");
  if (!B64_CHARS.test(body)) return null;
  const bytes = Buffer.from(body, "base64");
  return bytes.toString("base64") === text ? bytes : null;
}

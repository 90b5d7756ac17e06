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
  if (!B64_CHARS.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, "base64");
  return encodeB64(bytes) === text ? bytes : null;
}

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

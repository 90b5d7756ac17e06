// The age v1 header: version line, stanzas, MAC line. Parsing is as strict as
// the spec (and the CCTV vectors): LF only, printable ASCII, canonical base64,
// body lines of 64 columns ended by one shorter line.
import { createHmac, timingSafeEqual } from "node:crypto";
import { decodeB64, encodeB64 } from "./base64.js";
import { headerError } from "./errors.js";
import { hkdf } from "./primitives.js";
import type { Stanza } from "./types.js";

/** The version line, without its newline. */
const VERSION_LINE = "age-encryption.org/v1";
const COLUMNS = 64;
const ARG_CHARS = /^[\x21-\x7e]+$/;
const LINE_CHARS = /^[\x20-\x7e]*$/;

/** A parsed header: stanzas, the bytes the MAC covers, the MAC, and where the payload starts. */
interface ParsedHeader {
  stanzas: Stanza[];
  /** Header bytes up to and including the `---` before the MAC. */
  macInput: Uint8Array;
  mac: Uint8Array;
  /** Offset of the first byte after the MAC line's newline. */
  payloadOffset: number;
}

/**
 * Parses an age header from the start of a binary age file.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_HEADER when it is not a valid v1 header
 */
export function parseHeader(file: Uint8Array): ParsedHeader {
  let pos = 0;
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const nextLine = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw headerError("unexpected end of header");
    const line = buf.toString("latin1", pos, end);
    if (!LINE_CHARS.test(line)) throw headerError("a header line holds a character outside printable ASCII");
    pos = end + 1;
    return line;
  };

  const version = nextLine();
  if (version !== VERSION_LINE) {
    throw version.startsWith("age-encryption.org/")
      ? headerError(`unsupported version ${JSON.stringify(version.slice(0, 40))}`)
      : headerError("the file does not start with age-encryption.org/v1");
  }
  const stanzas: Stanza[] = [];
  for (;;) {
    const lineStart = pos;
    const line = nextLine();
    if (line.startsWith("-> ")) {
      const args = line.slice(3).split(" ");
      if (!args.every((a) => ARG_CHARS.test(a))) throw headerError("a stanza has an empty or invalid argument");
      const chunks: Uint8Array[] = [];
      for (;;) {
        const bodyLine = nextLine();
        if (bodyLine.length > COLUMNS) throw headerError("a stanza body line is longer than 64 columns");
        const bytes = decodeB64(bodyLine);
        if (bytes === null) throw headerError("a stanza body is not canonical base64");
        chunks.push(bytes);
        if (bodyLine.length < COLUMNS) break;
      }
      stanzas.push({ args, body: Buffer.concat(chunks) });
    } else if (line.startsWith("--- ")) {
      const mac = decodeB64(line.slice(4));
      if (mac === null || mac.length !== 32) throw headerError("the MAC line is malformed");
      return { stanzas, macInput: file.subarray(0, lineStart + 3), mac, payloadOffset: pos };
    } else {
      throw headerError("expected a stanza (->) or the MAC line (---)");
    }
  }
}

/** Serializes the header up to and including `---` (the MAC input). */
export function serializeHeaderWithoutMac(stanzas: readonly Stanza[]): string {
  return VERSION_LINE + "\n" + serializeStanzas(stanzas) + "---";
}

/** Serializes stanzas as they appear between the version line and `---`. */
export function serializeStanzas(stanzas: readonly Stanza[]): string {
  let out = "";
  for (const s of stanzas) {
    out += "-> " + s.args.join(" ") + "\n";
    const b64 = encodeB64(s.body);
    for (let i = 0; i < b64.length; i += COLUMNS) out += b64.slice(i, i + COLUMNS) + "\n";
    // A body always ends with a line shorter than 64 columns, possibly empty.
    if (b64.length % COLUMNS === 0) out += "\n";
  }
  return out;
}

/** HMAC-SHA256 of the header under HKDF(fileKey, "header"). */
export function headerMac(fileKey: Uint8Array, macInput: Uint8Array | string): Uint8Array {
  const key = hkdf(fileKey, new Uint8Array(0), "header");
  return createHmac("sha256", key).update(macInput).digest();
}

/** Constant-time MAC check. */
export function verifyHeaderMac(fileKey: Uint8Array, header: ParsedHeader): boolean {
  return timingSafeEqual(headerMac(fileKey, header.macInput), header.mac);
}

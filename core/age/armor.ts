// age's ASCII armor: strict PEM-like framing of padded base64, 64 columns,
// LF or CRLF, whitespace allowed only around the whole block.
import { decodeB64Padded } from "./base64.js";
import { armorError } from "./errors.js";

const BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";
const END = "-----END AGE ENCRYPTED FILE-----";
const COLUMNS = 64;

/**
 * Whether the data should be read as armor: anything that is not a binary
 * age file (`age-encryption.org/`) but starts with `-----` after whitespace or
 * carries the BEGIN line near its start. Such data then has to pass dearmor's
 * strict rules, so damaged armor reports an armor error, not a header error.
 */
export function isArmored(data: Uint8Array): boolean {
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, 1024)).toString("latin1");
  if (head.startsWith("age-encryption.org/")) return false;
  return head.trimStart().startsWith("-----") || head.includes(BEGIN);
}

/** Armors a binary age file. */
export function armor(file: Uint8Array): string {
  const b64 = Buffer.from(file.buffer, file.byteOffset, file.byteLength).toString("base64");
  const lines = [BEGIN];
  for (let i = 0; i < b64.length; i += COLUMNS) lines.push(b64.slice(i, i + COLUMNS));
  lines.push(END);
  return lines.join("\n") + "\n";
}

/**
 * Removes armor, strictly.
 *
 * @throws NixsealError NIXSEAL_ERR_AGE_ARMOR
 */
export function dearmor(data: Uint8Array | string): Uint8Array {
  const text = typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
  const trimmed = text.replace(/^[ \t\r\n]+/, "").replace(/[ \t\r\n]+$/, "");
  const lines = trimmed.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  if (lines[0] !== BEGIN) throw armorError("the first line is not " + BEGIN);
  if (lines.length < 2 || lines[lines.length - 1] !== END) throw armorError("the last line is not " + END);
  const body = lines.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const line = body[i]!;
    const last = i === body.length - 1;
    if (line.length === 0) throw armorError(`line ${i + 2} is empty`);
    if (line.length > COLUMNS || (!last && line.length !== COLUMNS)) {
      throw armorError(`line ${i + 2} is not 64 columns wide`);
    }
  }
  const bytes = decodeB64Padded(body.join(""));
  if (bytes === null) throw armorError("the body is not canonical padded base64");
  return bytes;
}

// The SSH wire encoding (RFC 4251 §5): uint32-length-prefixed strings and
// mpints, as used in public key blobs and openssh-key-v1 files.

/** Reads SSH wire fields from a buffer; every read is bounds-checked. */
export class SshReader {
  private pos = 0;
  private readonly buf: Uint8Array;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  /** Whether every byte was consumed. */
  get done(): boolean {
    return this.pos === this.buf.length;
  }
  /** Bytes not read yet. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** A uint32; null past the end. */
  uint32(): number | null {
    if (this.pos + 4 > this.buf.length) return null;
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getUint32(0);
    this.pos += 4;
    return v;
  }

  /** A length-prefixed byte string; null when cut short. */
  string(): Uint8Array | null {
    const len = this.uint32();
    if (len === null || this.pos + len > this.buf.length) return null;
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** A length-prefixed string decoded as UTF-8. */
  text(): string | null {
    const s = this.string();
    return s === null ? null : Buffer.from(s).toString("utf8");
  }

  /** Raw bytes. */
  bytes(n: number): Uint8Array | null {
    if (this.pos + n > this.buf.length) return null;
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** The rest of the buffer. */
  rest(): Uint8Array {
    const out = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return out;
  }
}

/** Encodes a length-prefixed string. */
export function sshString(data: Uint8Array | string): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** Encodes an unsigned big-endian integer as an SSH mpint (leading zero when the top bit is set). */
export function sshMpint(unsigned: Uint8Array): Buffer {
  let i = 0;
  while (i < unsigned.length && unsigned[i] === 0) i++;
  let v = Buffer.from(unsigned.subarray(i));
  if (v.length > 0 && v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return sshString(v);
}

/** Strips an mpint's sign byte: the unsigned magnitude. */
export function mpintMagnitude(mpint: Uint8Array): Uint8Array {
  let i = 0;
  while (i < mpint.length - 1 && mpint[i] === 0) i++;
  return mpint.subarray(i);
}

/** Big-endian bytes to a bigint. */
export function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt("0x" + Buffer.from(bytes).toString("hex"));
}

/** A bigint to big-endian bytes (no sign byte). */
export function fromBigInt(n: bigint): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  return Buffer.from(hex, "hex");
}

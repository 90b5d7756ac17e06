// Private keys for age's SSH identities: openssh-key-v1 (unencrypted: parsed
// here, because importing ssh2 costs ~55 ms and host keys on the boot path are
// unencrypted; passphrase-protected: through ssh2's parser, loaded lazily) and
// PEM/PKCS#8 keys (node:crypto reads them, encrypted ones too).
import { createPrivateKey, type KeyObject } from "node:crypto";
import { SshReader, fromBigInt, mpintMagnitude, sshMpint, sshString, toBigInt } from "./ssh-wire.js";
import { parseSshPublicBlob, type SshEd25519PublicKey, type SshRsaPublicKey } from "./ssh-public.js";
import {
  keyInvalidError,
  keyUnsupportedError,
  passphraseError,
  passphraseRequiredError,
} from "../age/errors.js";

/** A parsed ssh-ed25519 private key: the 32-byte seed and the public key. */
export interface SshEd25519PrivateKey {
  type: "ssh-ed25519";
  seed: Uint8Array;
  publicKey: SshEd25519PublicKey;
}
/** A parsed RSA private key. */
export interface SshRsaPrivateKey {
  type: "ssh-rsa";
  privateKey: KeyObject;
  publicKey: SshRsaPublicKey;
}
export type SshPrivateKey = SshEd25519PrivateKey | SshRsaPrivateKey;

/** Asks for a passphrase when the key needs one. */
export type PassphraseSource = () => Promise<string>;

const OPENSSH_BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----";
const OPENSSH_END = "-----END OPENSSH PRIVATE KEY-----";
const MAGIC = "openssh-key-v1\0";

/** Whether a file's text is an OpenSSH or PEM private key. */
export function looksLikePrivateKey(text: string): boolean {
  return /-----BEGIN ([A-Z0-9 ]+ )?PRIVATE KEY-----/.test(text);
}

/**
 * Parses an OpenSSH or PEM private key (ssh-ed25519 or RSA).
 *
 * @param text - the file's text
 * @param source - file name, for messages
 * @param passphrase - asked only when the key is encrypted
 * @throws NixsealError NIXSEAL_ERR_KEY_INVALID, _KEY_UNSUPPORTED, _KEY_PASSPHRASE, _KEY_PASSPHRASE_REQUIRED
 */
export async function parseSshPrivateKey(
  text: string,
  source?: string,
  passphrase?: PassphraseSource,
): Promise<SshPrivateKey> {
  const trimmed = text.trim();
  if (trimmed.startsWith(OPENSSH_BEGIN)) return parseOpenSsh(trimmed, source, passphrase);
  if (/^-----BEGIN (RSA |ENCRYPTED )?PRIVATE KEY-----/.test(trimmed)) return parsePem(trimmed, source, passphrase);
  if (/^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(trimmed)) {
    throw keyUnsupportedError(/^-----BEGIN ([A-Z0-9 ]*) PRIVATE KEY-----/.exec(trimmed)?.[1] ?? "unknown", source);
  }
  throw keyInvalidError("not an OpenSSH or PEM private key", source);
}

function openSshBlob(text: string, source?: string): Uint8Array {
  const end = text.indexOf(OPENSSH_END);
  if (end < 0) throw keyInvalidError("the OpenSSH private key has no END line (truncated?)", source);
  const b64 = text.slice(OPENSSH_BEGIN.length, end).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw keyInvalidError("the OpenSSH private key is not base64", source);
  return Buffer.from(b64, "base64");
}

async function parseOpenSsh(text: string, source?: string, passphrase?: PassphraseSource): Promise<SshPrivateKey> {
  const blob = openSshBlob(text, source);
  const bad = (what: string) => keyInvalidError(`malformed OpenSSH private key: ${what}`, source);
  if (Buffer.from(blob.subarray(0, MAGIC.length)).toString("latin1") !== MAGIC) throw bad("bad magic");
  const r = new SshReader(blob.subarray(MAGIC.length));
  const cipher = r.text();
  const kdf = r.text();
  const kdfOptions = r.string();
  const count = r.uint32();
  if (cipher === null || kdf === null || kdfOptions === null || count === null) throw bad("truncated");
  if (count !== 1) throw bad(`${count} keys in one file (expected 1)`);
  const pubBlob = r.string();
  const privSection = r.string();
  if (pubBlob === null || privSection === null) throw bad("truncated");
  // Reject unknown types before anything else, from the public half.
  const pubType = new SshReader(pubBlob).text() ?? "";
  if (pubType !== "ssh-ed25519" && pubType !== "ssh-rsa") throw keyUnsupportedError(pubType.slice(0, 40), source);
  if (cipher !== "none") return parseEncryptedOpenSsh(text, source, passphrase);
  const publicKey = parseSshPublicBlob(pubBlob, "", source);

  const p = new SshReader(privSection);
  const check1 = p.uint32();
  const check2 = p.uint32();
  if (check1 === null || check1 !== check2) throw bad("check bytes differ");
  const type = p.text();
  if (type !== publicKey.type) throw bad("private and public halves differ in type");
  if (publicKey.type === "ssh-ed25519") {
    const pub = p.string();
    const priv = p.string();
    if (pub === null || priv === null || priv.length !== 64) throw bad("ed25519 fields");
    if (!Buffer.from(pub).equals(Buffer.from(publicKey.key)) || !Buffer.from(priv.subarray(32)).equals(Buffer.from(pub))) {
      throw bad("private and public halves differ");
    }
    return { type: "ssh-ed25519", seed: Uint8Array.from(priv.subarray(0, 32)), publicKey };
  }
  const fields = [p.string(), p.string(), p.string(), p.string(), p.string(), p.string()];
  if (fields.some((f) => f === null)) throw bad("rsa fields");
  const [n, e, d, iqmp, pp, q] = fields.map((f) => mpintMagnitude(f!)) as Uint8Array[];
  const dB = toBigInt(d!);
  const b64u = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
  const privateKey = createPrivateKey({
    key: {
      kty: "RSA",
      n: b64u(n!),
      e: b64u(e!),
      d: b64u(d!),
      p: b64u(pp!),
      q: b64u(q!),
      dp: b64u(fromBigInt(dB % (toBigInt(pp!) - 1n))),
      dq: b64u(fromBigInt(dB % (toBigInt(q!) - 1n))),
      qi: b64u(iqmp!),
    },
    format: "jwk",
  });
  return { type: "ssh-rsa", privateKey, publicKey: publicKey as SshRsaPublicKey };
}

async function askPassphrase(source: string | undefined, passphrase?: PassphraseSource): Promise<string> {
  if (!passphrase) throw passphraseRequiredError(source);
  return passphrase();
}

// ssh2 is CommonJS with no bundled types; this is the one function used.
type Ssh2ParsedKey = { type: string; getPrivatePEM(): string; getPublicSSH(): Buffer };
type Ssh2Utils = { parseKey(data: Buffer | string, passphrase?: string): Ssh2ParsedKey | Ssh2ParsedKey[] | Error };

async function parseEncryptedOpenSsh(text: string, source?: string, passphrase?: PassphraseSource): Promise<SshPrivateKey> {
  const pass = await askPassphrase(source, passphrase);
  // ssh2 ships no types; a variable specifier keeps tsc from looking for them.
  const specifier = "ssh2";
  const ssh2 = (await import(specifier)) as unknown as { default?: { utils: Ssh2Utils }; utils?: Ssh2Utils };
  const utils = (ssh2.utils ?? ssh2.default?.utils)!;
  const parsed = utils.parseKey(Buffer.from(text), pass);
  if (parsed instanceof Error) {
    if (/passphrase/i.test(parsed.message)) throw passphraseError(source);
    throw keyInvalidError("the encrypted OpenSSH private key cannot be read", source);
  }
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  return fromKeyObject(createPrivateKey(key.getPrivatePEM()), source, new Uint8Array(key.getPublicSSH()));
}

async function parsePem(text: string, source?: string, passphrase?: PassphraseSource): Promise<SshPrivateKey> {
  const encrypted = text.startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----") || /Proc-Type:\s*4,ENCRYPTED/.test(text);
  let keyObject: KeyObject;
  if (encrypted) {
    const pass = await askPassphrase(source, passphrase);
    try {
      keyObject = createPrivateKey({ key: text, format: "pem", passphrase: pass });
    } catch {
      throw passphraseError(source);
    }
  } else {
    try {
      keyObject = createPrivateKey({ key: text, format: "pem" });
    } catch {
      throw keyInvalidError("the PEM private key cannot be read", source);
    }
  }
  return fromKeyObject(keyObject, source);
}

/** Builds our key shape from a node:crypto private key (PEM and ssh2 paths). */
function fromKeyObject(keyObject: KeyObject, source?: string, wire?: Uint8Array): SshPrivateKey {
  const jwk = keyObject.export({ format: "jwk" });
  if (keyObject.asymmetricKeyType === "ed25519") {
    const pub = Buffer.from(jwk.x!, "base64url");
    const blob = wire ?? Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
    return { type: "ssh-ed25519", seed: Buffer.from(jwk.d!, "base64url"), publicKey: parseSshPublicBlob(blob, "", source) as SshEd25519PublicKey };
  }
  if (keyObject.asymmetricKeyType === "rsa") {
    const blob = wire ?? Buffer.concat([sshString("ssh-rsa"), sshMpint(Buffer.from(jwk.e!, "base64url")), sshMpint(Buffer.from(jwk.n!, "base64url"))]);
    return { type: "ssh-rsa", privateKey: keyObject, publicKey: parseSshPublicBlob(blob, "", source) as SshRsaPublicKey };
  }
  throw keyUnsupportedError(keyObject.asymmetricKeyType ?? "unknown", source);
}

// The crypto core's error catalogue: one constructor per failure, so codes,
// messages and hints stay consistent (docs/errors.md, "Crypto (core/age)").
// Messages name files and positions, never key or plaintext bytes.
import { NixsealError } from "../errors.js";
import type { Identity, Stanza } from "./types.js";

/** Stable codes of the crypto core. */
export const AgeErrorCode = {
  header: "NIXSEAL_ERR_AGE_HEADER",
  stanza: "NIXSEAL_ERR_AGE_STANZA",
  noIdentity: "NIXSEAL_ERR_AGE_NO_IDENTITY",
  hmac: "NIXSEAL_ERR_AGE_HMAC",
  payload: "NIXSEAL_ERR_AGE_PAYLOAD",
  armor: "NIXSEAL_ERR_AGE_ARMOR",
  recipient: "NIXSEAL_ERR_AGE_RECIPIENT",
  noRecipients: "NIXSEAL_ERR_AGE_NO_RECIPIENTS",
  identity: "NIXSEAL_ERR_AGE_IDENTITY",
  rsaTooSmall: "NIXSEAL_ERR_RSA_KEY_TOO_SMALL",
  keyInvalid: "NIXSEAL_ERR_KEY_INVALID",
  keyUnsupported: "NIXSEAL_ERR_KEY_UNSUPPORTED",
  passphrase: "NIXSEAL_ERR_KEY_PASSPHRASE",
  passphraseRequired: "NIXSEAL_ERR_KEY_PASSPHRASE_REQUIRED",
} as const;

const NOT_AGE = "check that the file is an age file and was copied whole (no truncation, no edits)";

/** The header does not follow age-encryption.org/v1. */
export function headerError(what: string): NixsealError {
  return new NixsealError(AgeErrorCode.header, `invalid age header: ${what}`, { hints: [NOT_AGE] });
}

/** A stanza meant for one of our identities is malformed or does not open. */
export function stanzaError(type: string, what: string): NixsealError {
  return new NixsealError(AgeErrorCode.stanza, `invalid ${type} stanza: ${what}`, {
    hints: ["the file was made for this key but its header is damaged or forged; re-encrypt it from the source"],
  });
}

/** No identity returned a file key: names the stanza types the file holds and the keys tried. */
export function noIdentityError(identities: readonly Identity[], stanzas: readonly Stanza[]): NixsealError {
  const count = identities.length;
  const tried = identities.map((id) => id.describe?.() ?? "an identity of another kind");
  return new NixsealError(
    AgeErrorCode.noIdentity,
    `no identity matched any recipient of the file: it has ${describeStanzas(stanzas)}; tried ${count} identit${count === 1 ? "y" : "ies"}${tried.length ? `: ${tried.join(", ")}` : ""}`,
    { hints: ["pass the private key the file was encrypted to with -i, or re-encrypt the file to this key (an ssh stanza's tag is the start of its key's SHA256 fingerprint)"] },
  );
}

/** "2 ssh-ed25519 stanzas (tags AbCdEw, …), 1 X25519 stanza": what a header offers, public parts only. */
function describeStanzas(stanzas: readonly Stanza[]): string {
  const byType = new Map<string, string[]>();
  for (const s of stanzas) {
    const type = (s.args[0] ?? "?").slice(0, 32);
    const tags = byType.get(type) ?? [];
    // ssh-* stanzas carry their key's tag as the first argument: public, and what a person compares
    if (type.startsWith("ssh-") && s.args[1] !== undefined) tags.push(s.args[1].slice(0, 16));
    else tags.push("");
    byType.set(type, tags);
  }
  if (byType.size === 0) return "no stanzas";
  return [...byType]
    .map(([type, tags]) => {
      const named = tags.filter(Boolean);
      const shown = named.length > 5 ? `${named.slice(0, 5).join(", ")}, …` : named.join(", ");
      return `${tags.length} ${type} stanza${tags.length === 1 ? "" : "s"}${named.length ? ` (tag${named.length === 1 ? "" : "s"} ${shown})` : ""}`;
    })
    .join(", ");
}

/** The header MAC does not match: the header was changed after encryption. */
export function hmacError(): NixsealError {
  return new NixsealError(AgeErrorCode.hmac, "age header authentication failed (the header was modified)", {
    hints: ["the file was tampered with or damaged; restore it from git or re-encrypt it"],
  });
}

/** The encrypted payload failed authentication or is cut short. */
export function payloadError(what: string): NixsealError {
  return new NixsealError(AgeErrorCode.payload, `age payload authentication failed: ${what}`, {
    hints: ["the file was truncated, tampered with or damaged; restore it from git or re-encrypt it"],
  });
}

/** ASCII armor that is not age's strict PEM-like encoding. */
export function armorError(what: string): NixsealError {
  return new NixsealError(AgeErrorCode.armor, `invalid age armor: ${what}`, {
    hints: ["the armored file must be exactly as age wrote it (-----BEGIN AGE ENCRYPTED FILE----- … -----END AGE ENCRYPTED FILE-----)"],
  });
}

/** A recipient that cannot be parsed or used. */
export function recipientError(what: string, source?: string): NixsealError {
  return new NixsealError(AgeErrorCode.recipient, `${source ? `${source}: ` : ""}${what}`, {
    hints: ["a recipient is an age1… key or an OpenSSH public key line (ssh-ed25519 AAAA… or ssh-rsa AAAA…)"],
  });
}

/** An identity file or line that cannot be parsed. */
export function identityError(what: string, source?: string): NixsealError {
  return new NixsealError(AgeErrorCode.identity, `${source ? `${source}: ` : ""}${what}`, {
    hints: ["an identity file holds AGE-SECRET-KEY-1… lines, or one OpenSSH/PEM private key (ed25519 or RSA)"],
  });
}

/** An RSA key below age's 2048-bit floor. */
export function rsaTooSmallError(bits: number, source?: string): NixsealError {
  return new NixsealError(AgeErrorCode.rsaTooSmall, `${source ? `${source}: ` : ""}RSA key of ${bits} bits is too small`, {
    hints: ["age refuses RSA keys under 2048 bits; use an ssh-ed25519 key or an RSA key of at least 2048 bits"],
  });
}

/** A private key file that is not a readable OpenSSH/PEM key. */
export function keyInvalidError(what: string, source?: string): NixsealError {
  return new NixsealError(AgeErrorCode.keyInvalid, `${source ? `${source}: ` : ""}${what}`, {
    hints: ["use an OpenSSH private key (ssh-keygen -t ed25519) or a PEM RSA key"],
  });
}

/** A key type nixseal does not support (ecdsa, dsa, sk-…). */
export function keyUnsupportedError(type: string, source?: string): NixsealError {
  return new NixsealError(AgeErrorCode.keyUnsupported, `${source ? `${source}: ` : ""}unsupported key type ${JSON.stringify(type)}`, {
    hints: ["age supports ssh-ed25519 and ssh-rsa keys only"],
  });
}

/** The passphrase does not open the key. */
export function passphraseError(source?: string): NixsealError {
  return new NixsealError(AgeErrorCode.passphrase, `${source ? `${source}: ` : ""}wrong passphrase for the private key`, {
    hints: ["try again with the key's passphrase; ssh-keygen -y -f KEY checks it"],
  });
}

/** An encrypted key and no way to ask for its passphrase. */
export function passphraseRequiredError(source?: string): NixsealError {
  return new NixsealError(AgeErrorCode.passphraseRequired, `${source ? `${source}: ` : ""}the private key is passphrase-protected`, {
    hints: ["run interactively so nixseal can ask for the passphrase, or use an unencrypted key"],
  });
}

// The operator's admin identity: which key decrypts the repo's secrets, and
// where it comes from. Order: --identity FILE, NIXSEAL_IDENTITY, the OS
// keychain, the fallback identity file.
import { NixsealError, generateAgeIdentity, parseIdentityFile, recipientOf, type Identity } from "../../core/index.js";
import type { CliIo } from "../io.js";
import { printWarning } from "../output.js";
import { explicitIdentityFile, recipientOfIdentityFile } from "./explicit.js";
import { defaultIdentityFile, isLoose, readIdentityFileIfExists, writeIdentityFile } from "./file.js";
import { keychainRead, keychainWrite } from "./keychain.js";
import { passphraseSource } from "./passphrase.js";

export { defaultIdentityFile } from "./file.js";
export { explicitIdentityFile, recipientOfIdentityFile } from "./explicit.js";
export { describeIdentity, exportIdentity, importIdentity, newIdentity, publicKeysOf, type IdentityTarget } from "./manage.js";
export { keychainRead, keychainWrite } from "./keychain.js";

/** Identities that can open the repo's secrets, and a label of where they came from (no key material). */
export interface AdminIdentity {
  identities: Identity[];
  source: string;
}

/**
 * Loads the admin identity for decrypting.
 *
 * @throws NixsealError NIXSEAL_ERR_NO_IDENTITY when none is found, or the parse
 * errors of the identity (wrong passphrase, not a key)
 */
export async function loadAdminIdentity(io: CliIo, flag?: string): Promise<AdminIdentity> {
  const explicit = explicitIdentityFile(io, flag);
  if (explicit) {
    const data = await readIdentityFileIfExists(explicit);
    if (!data) {
      throw new NixsealError("NIXSEAL_ERR_NO_IDENTITY", `identity file ${explicit}: no such file`, {
        hints: [flag ? "check the --identity path" : "check NIXSEAL_IDENTITY"],
      });
    }
    return { identities: await parseFile(io, data, explicit), source: explicit };
  }
  const kc = await keychainRead(io);
  if (kc.ok && kc.identity) {
    return { identities: await parseFile(io, kc.identity, "keychain entry"), source: "keychain" };
  }
  const file = defaultIdentityFile(io);
  const data = await readIdentityFileIfExists(file);
  if (data) {
    if (await isLoose(file)) printWarning(io, `${file} is readable by others; run "chmod 600 ${file}"`);
    return { identities: await parseFile(io, data, file), source: file };
  }
  throw new NixsealError("NIXSEAL_ERR_NO_IDENTITY", "no admin identity found", {
    hints: [
      `looked in: the OS keychain (${kc.ok ? "no nixseal entry" : `not reachable: ${kc.reason}`}) and ${file}`,
      "pass --identity FILE (an age identity file or an SSH private key) or set NIXSEAL_IDENTITY",
      ...(kc.ok || kc.disabled
        ? []
        : ['if your identity is in the keychain of another session (your desktop): there, "nixseal identity export --out FILE"; here, "nixseal identity import FILE"']),
      'no identity yet? "nixseal identity new" makes one; an admin of the repo then adds it (nixseal admin add)',
    ],
  });
}

async function parseFile(io: CliIo, data: string | Uint8Array, label: string): Promise<Identity[]> {
  try {
    return await parseIdentityFile(data, label, { passphrase: passphraseSource(io, label) });
  } catch (err) {
    if (err instanceof NixsealError) throw err;
    throw new NixsealError("NIXSEAL_ERR_BAD_IDENTITY", `cannot use identity ${label}: ${(err as Error).message}`, {
      hints: ["an identity is an age identity file (AGE-SECRET-KEY-1…) or an OpenSSH private key"],
      cause: err,
    });
  }
}

/** What init did about the admin identity. */
interface CreatedIdentity {
  recipient: string;
  /** "keychain", "existing keychain entry", an identity file path, or the --identity file. */
  storedIn: string;
  /** Why the keychain was not used, when it was not. */
  keychainProblem?: string;
}

/**
 * For init: uses --identity/NIXSEAL_IDENTITY if given; else reuses a keychain
 * entry or identity file already there; else generates a fresh age identity
 * and stores it in the keychain, or in the fallback file when no keychain is
 * reachable.
 */
export async function ensureAdminIdentity(io: CliIo, flag?: string): Promise<CreatedIdentity> {
  const explicit = explicitIdentityFile(io, flag);
  if (explicit) return { recipient: await recipientOfIdentityFile(explicit), storedIn: explicit };
  const kc = await keychainRead(io);
  if (kc.ok && kc.identity) return { recipient: recipientOf(firstAgeKey(kc.identity)), storedIn: "existing keychain entry" };
  const file = defaultIdentityFile(io);
  const existing = await readIdentityFileIfExists(file);
  if (existing) return { recipient: await recipientOfIdentityFile(file), storedIn: file, keychainProblem: kc.ok ? undefined : kc.reason };

  const { identity, recipient } = generateAgeIdentity();
  const stored = kc.ok ? await keychainWrite(io, identity) : { ok: false as const, reason: kc.reason };
  if (stored.ok) return { recipient, storedIn: "keychain" };
  await writeIdentityFile(file, identity, recipient);
  return { recipient, storedIn: file, keychainProblem: stored.reason };
}

function firstAgeKey(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (!line) throw new NixsealError("NIXSEAL_ERR_BAD_IDENTITY", "the keychain entry is not an age identity");
  return line.trim();
}

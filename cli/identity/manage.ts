// `nixseal identity where|export|import|new`: finding the admin identity and moving it
// between the OS keychain and the identity file (e.g. from a desktop session, where the
// keychain is, into an SSH session, where there is none).
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import {
  NixsealError,
  generateAgeIdentity,
  parseIdentityFile,
  recipientOf,
  writeFileAtomic,
  type Identity,
} from "../../core/index.js";
import { readAll, type CliIo } from "../io.js";
import { defaultIdentityFile, readIdentityFileIfExists, writeIdentityFile } from "./file.js";
import { keychainRead, keychainWrite, type KeychainRead } from "./keychain.js";
import { explicitIdentityFile, recipientOfIdentityFile } from "./explicit.js";

/** Where an identity is stored. */
export type IdentityTarget = "keychain" | "file";

/** The canonical public keys of some identities (identities that cannot say are left out). */
export function publicKeysOf(identities: Identity[]): string[] {
  return identities.flatMap((id) => {
    const r = (id as Partial<{ recipient(): { toString(): string } }>).recipient?.();
    return r ? [r.toString()] : [];
  });
}

/** The age identity lines of a text, or a clear error. */
function ageLines(text: string, label: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (lines.length === 0) {
    throw new NixsealError("NIXSEAL_ERR_BAD_IDENTITY", `${label} holds no age identity (no AGE-SECRET-KEY-1… line)`, {
      hints: ["import an age identity file (age-keygen -o FILE, or what nixseal identity export wrote); an SSH key is used in place with --identity"],
    });
  }
  for (const l of lines) recipientOf(l); // throws a clear error on a damaged line
  return lines;
}

/** How the keychain stands, in one line for people. */
function keychainLine(kc: KeychainRead): string {
  if (!kc.ok) return `not reachable: ${kc.reason}`;
  return kc.identity ? "reachable, holds your identity" : "reachable, holds no nixseal identity";
}

/** What `identity where` reports. */
interface IdentityReport {
  /** "keychain", a file path, or undefined when none is found. */
  source?: string;
  publicKey?: string;
  keychain: string;
}

/** Where the admin identity is found, in the order every command looks. */
export async function describeIdentity(io: CliIo, flag?: string): Promise<IdentityReport> {
  const kc = await keychainRead(io);
  const explicit = explicitIdentityFile(io, flag);
  if (explicit) {
    return { source: explicit, publicKey: await recipientOfIdentityFile(explicit).catch(() => undefined), keychain: keychainLine(kc) };
  }
  if (kc.ok && kc.identity) return { source: "keychain", publicKey: recipientOf(ageLines(kc.identity, "the keychain entry")[0]!), keychain: keychainLine(kc) };
  const file = defaultIdentityFile(io);
  if (await readIdentityFileIfExists(file)) return { source: file, publicKey: await recipientOfIdentityFile(file).catch(() => undefined), keychain: keychainLine(kc) };
  return { keychain: keychainLine(kc) };
}

/**
 * Writes the admin identity's text to a new 0600 file, or to stdout when that is not a
 * terminal (a private key is not shown on a screen).
 */
export async function exportIdentity(io: CliIo, opts: { out?: string; flag?: string }): Promise<{ source: string; out?: string; publicKey: string }> {
  const explicit = explicitIdentityFile(io, opts.flag);
  let text: string;
  let source: string;
  if (explicit) {
    const data = await readIdentityFileIfExists(explicit);
    if (!data) throw new NixsealError("NIXSEAL_ERR_NO_IDENTITY", `identity file ${explicit}: no such file`);
    [text, source] = [data.toString("utf8"), explicit];
  } else {
    const kc = await keychainRead(io);
    const file = defaultIdentityFile(io);
    const fromFile = kc.ok && kc.identity ? null : await readIdentityFileIfExists(file);
    if (kc.ok && kc.identity) [text, source] = [kc.identity, "the OS keychain"];
    else if (fromFile) [text, source] = [fromFile.toString("utf8"), file];
    else {
      throw new NixsealError("NIXSEAL_ERR_NO_IDENTITY", "no admin identity to export", {
        hints: [`looked in the OS keychain (${keychainLine(kc)}) and ${file}`, "run this where your identity is (e.g. inside your desktop session, for the keychain)"],
      });
    }
  }
  const publicKey = recipientOf(ageLines(text, source)[0]!);
  if (opts.out === undefined) {
    if (io.stdout.isTTY) {
      throw new NixsealError("NIXSEAL_ERR_USAGE", "not printing a private key on the terminal", {
        hints: ["write it to a file: nixseal identity export --out FILE, or pipe it: nixseal identity export | ssh HOST 'nixseal identity import -'"],
        exitCode: 2,
      });
    }
    await new Promise<void>((res, rej) => io.stdout.write(text.endsWith("\n") ? text : `${text}\n`, (e) => (e ? rej(e) : res())));
    return { source, publicKey };
  }
  const out = resolve(io.cwd, opts.out);
  if (await readIdentityFileIfExists(out)) {
    throw new NixsealError("NIXSEAL_ERR_IDENTITY_EXISTS", `${out} already exists; not overwriting it`, { hints: ["pick a new file name"] });
  }
  await writeFileAtomic(out, text.endsWith("\n") ? text : `${text}\n`, 0o600);
  return { source, out, publicKey };
}

/** Stores an identity text where asked, or in the keychain when reachable, else the file. */
async function store(io: CliIo, lines: string[], to: IdentityTarget | undefined): Promise<{ storedIn: string; why?: string; unchanged?: boolean }> {
  const publicKey = recipientOf(lines[0]!);
  const kc = to === "file" ? undefined : await keychainRead(io);
  const file = defaultIdentityFile(io);
  if (kc?.ok) {
    if (kc.identity) {
      const there = ageLines(kc.identity, "the keychain entry");
      if (recipientOf(there[0]!) === publicKey) return { storedIn: "the OS keychain", unchanged: true };
      throw new NixsealError("NIXSEAL_ERR_IDENTITY_EXISTS", "the OS keychain already holds another nixseal identity; not replacing it", {
        hints: ["export it first if you still need it (nixseal identity export --out FILE), or import into the file: --to file"],
      });
    }
    const w = await keychainWrite(io, lines.join("\n") + "\n");
    if (w.ok) return { storedIn: "the OS keychain" };
    if (to === "keychain") throw noKeychain(w.reason);
    return { ...(await toFile(file, lines, publicKey)), why: `the OS keychain is not usable: ${w.reason}` };
  }
  if (to === "keychain") throw noKeychain(kc && !kc.ok ? kc.reason : "unknown");
  return { ...(await toFile(file, lines, publicKey)), ...(kc && !kc.ok ? { why: `no OS keychain: ${kc.reason}` } : {}) };
}

async function toFile(file: string, lines: string[], publicKey: string): Promise<{ storedIn: string; unchanged?: boolean }> {
  const existing = await readIdentityFileIfExists(file);
  if (existing) {
    const there = ageLines(existing.toString("utf8"), file);
    if (recipientOf(there[0]!) === publicKey) return { storedIn: file, unchanged: true };
  }
  await writeIdentityFile(file, lines.join("\n"), publicKey); // refuses an existing, different file
  return { storedIn: file };
}

function noKeychain(reason: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_NO_KEYCHAIN", `the OS keychain is not reachable: ${reason}`, {
    hints: ["store it in the identity file instead: --to file (mode 0600)", "or run inside a session with a Secret Service (see docs/identities.md)"],
  });
}

/** `identity import [FILE]`: an age identity file (or stdin) becomes the admin identity. */
export async function importIdentity(io: CliIo, file: string | undefined, to?: IdentityTarget): Promise<{ storedIn: string; why?: string; unchanged?: boolean; publicKey: string }> {
  let text: string;
  if (file === undefined) {
    if (io.stdin.isTTY) throw new NixsealError("NIXSEAL_ERR_USAGE", "give the identity file, or pipe it on stdin", { hints: ["nixseal identity import FILE"], exitCode: 2 });
    text = (await readAll(io.stdin)).toString("utf8");
  } else {
    try {
      text = await readFile(resolve(io.cwd, file), "utf8");
    } catch (err) {
      throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  }
  const lines = ageLines(text, file ?? "stdin");
  await parseIdentityFile(lines.join("\n"), file ?? "stdin"); // parses as every command will
  const r = await store(io, lines, to);
  return { ...r, publicKey: recipientOf(lines[0]!) };
}

/** `identity new`: a fresh age identity, when none is stored yet. */
export async function newIdentity(io: CliIo, to?: IdentityTarget): Promise<{ storedIn: string; why?: string; publicKey: string }> {
  const kc = await keychainRead(io);
  const file = defaultIdentityFile(io);
  if ((kc.ok && kc.identity) || (await readIdentityFileIfExists(file))) {
    throw new NixsealError("NIXSEAL_ERR_IDENTITY_EXISTS", `you already have an admin identity (${kc.ok && kc.identity ? "in the OS keychain" : file})`, {
      hints: ['"nixseal identity where" shows it and its public key'],
    });
  }
  const { identity, recipient } = generateAgeIdentity();
  const r = await store(io, [identity], to);
  return { ...r, publicKey: recipient };
}

// Which of secrets.nix's public keys is a host and which an admin. Nix evaluation
// keeps only the key strings (the let-bound names are gone), so the operator says it:
// a mapping file, or answers on the terminal.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { NixsealError, canonicalRecipient, hostName, parseJsonText, sshFingerprint, validate } from "../../../core/index.js";
import type { CliIo } from "../../io.js";
import { printInfo } from "../../output.js";
import { canPrompt, promptLine } from "../../prompt.js";
import { checkHostKey, checkHostName, parseTarget } from "../../repo/validate.js";

export type KeyRole = { kind: "host"; name: string; target: string; line: string } | { kind: "admin"; name: string; line: string };

const mapSchema = z.strictObject({
  hosts: z.record(hostName, z.strictObject({ key: z.string().min(1), target: z.string().min(1) })).default({}),
  admins: z.record(z.string().min(1), z.string().min(1)).default({}),
});

/** A short, non-secret label for a key in messages: type and fingerprint (age1 keys are short enough). */
export function keyLabel(line: string): string {
  return line.startsWith("age1") ? line : `${line.split(" ")[0]} ${sshFingerprint(line)}`;
}

function canonicalOr(line: string, where: string): string {
  try {
    return canonicalRecipient(line);
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_AGENIX_MAP", `${where}: not a public key nixseal can encrypt to: ${(err as Error).message}`, {
      hints: ["give an ssh-ed25519, ssh-rsa or age1… public key"],
    });
  }
}

/**
 * Reads a mapping file: { "hosts": { NAME: { "key", "target" } }, "admins": { NAME: key } }.
 *
 * @returns canonical key -> its role
 * @throws NixsealError NIXSEAL_ERR_INVALID_FILE, NIXSEAL_ERR_AGENIX_MAP
 */
export async function readKeyMap(io: CliIo, file: string): Promise<Map<string, KeyRole>> {
  const path = resolve(io.cwd, file);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `cannot read --map ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const parsed = validate(mapSchema, parseJsonText(text, file), file);
  const roles = new Map<string, KeyRole>();
  const add = (canonical: string, role: KeyRole): void => {
    const prev = roles.get(canonical);
    if (prev) throw new NixsealError("NIXSEAL_ERR_AGENIX_MAP", `${file}: key ${keyLabel(role.line)} is given twice (${prev.kind} ${prev.name} and ${role.kind} ${role.name})`, { hints: ["one key is one host or one admin"] });
    roles.set(canonical, role);
  };
  for (const [name, h] of Object.entries(parsed.hosts)) {
    parseTarget(h.target);
    const line = await checkHostKey(h.key, `${file}: hosts.${name}.key`);
    add(canonicalOr(line, `${file}: hosts.${name}.key`), { kind: "host", name, target: h.target, line });
  }
  for (const [name, key] of Object.entries(parsed.admins)) {
    add(canonicalOr(key, `${file}: admins.${name}`), { kind: "admin", name, line: key.trim() });
  }
  return roles;
}

/**
 * Asks on the terminal for every key the map does not name.
 *
 * @param unmapped - canonical key -> the key as secrets.nix wrote it, and the .age files that list it
 * @throws NixsealError NIXSEAL_ERR_AGENIX_UNMAPPED_KEY without a terminal
 */
export async function askRoles(io: CliIo, unmapped: Map<string, { line: string; files: string[] }>, roles: Map<string, KeyRole>): Promise<void> {
  if (unmapped.size === 0) return;
  if (!canPrompt(io)) {
    const list = [...unmapped.values()].map(({ line, files }) => `${keyLabel(line)} (in ${files.join(", ")})`);
    throw new NixsealError("NIXSEAL_ERR_AGENIX_UNMAPPED_KEY", `${unmapped.size} public key${unmapped.size === 1 ? "" : "s"} of secrets.nix map${unmapped.size === 1 ? "s" : ""} to no host or admin: ${list.join("; ")}`, {
      hints: ['name each in a mapping file, --map FILE: { "hosts": { "web1": { "key": "ssh-ed25519 AAAA…", "target": "root@192.0.2.10" } }, "admins": { "alice": "ssh-ed25519 AAAA…" } }', "or run the import on a terminal, which asks"],
    });
  }
  for (const [key, { line, files }] of unmapped) {
    printInfo(io, `key ${keyLabel(line)} encrypts ${files.join(", ")}`);
    for (;;) {
      const answer = await promptLine(io, '  is it a host (its name, e.g. web1) or an admin ("admin NAME")? ');
      const admin = /^admin\s+(\S+)$/.exec(answer);
      if (admin) {
        roles.set(key, { kind: "admin", name: admin[1]!, line });
        break;
      }
      try {
        const name = checkHostName(answer);
        await checkHostKey(line, `key of host ${name}`);
        const target = await promptLine(io, `  ssh target of ${name} (user@address[:port]): `);
        parseTarget(target);
        roles.set(key, { kind: "host", name, target, line });
        break;
      } catch (err) {
        printInfo(io, `  ${(err as Error).message}`);
      }
    }
  }
}

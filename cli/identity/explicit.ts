// Identity files named by the operator (--identity, NIXSEAL_IDENTITY) and the public key
// of an identity file.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { NixsealError, canonicalRecipient, parseRecipient, recipientOf } from "../../core/index.js";
import type { CliIo } from "../io.js";
import { readIdentityFileIfExists } from "./file.js";

/** An explicitly named identity file: the --identity flag, else NIXSEAL_IDENTITY. */
export function explicitIdentityFile(io: CliIo, flag: string | undefined): string | undefined {
  const file = flag || io.env.NIXSEAL_IDENTITY;
  return file ? resolve(io.cwd, file) : undefined;
}

/**
 * The public recipient of an identity file, for the admins list: the age1…
 * key of its first AGE-SECRET-KEY line, or for an SSH private key the line of
 * FILE.pub (checked to be a valid recipient).
 */
export async function recipientOfIdentityFile(file: string): Promise<string> {
  const data = await readIdentityFileIfExists(file);
  if (!data) throw new NixsealError("NIXSEAL_ERR_NO_IDENTITY", `identity file ${file}: no such file`);
  const text = data.toString("utf8");
  const ageLine = text.split(/\r?\n/).find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (ageLine) return recipientOf(ageLine.trim());
  if (!/PRIVATE KEY-----/.test(text)) {
    throw new NixsealError("NIXSEAL_ERR_BAD_IDENTITY", `${file}: neither an age identity file nor a private key`, {
      hints: ["make one with age-keygen -o FILE, or pass an SSH private key such as ~/.ssh/id_ed25519"],
    });
  }
  const pubFile = `${file}.pub`;
  let line: string;
  try {
    line = (await readFile(pubFile, "utf8")).split(/\r?\n/).find((l) => l.trim() && !l.startsWith("#"))?.trim() ?? "";
  } catch {
    throw new NixsealError("NIXSEAL_ERR_NO_IDENTITY", `cannot find the public key ${pubFile} for ${file}`, {
      hints: [`write it with "ssh-keygen -y -f ${file} > ${pubFile}"`],
    });
  }
  await parseRecipient(line, pubFile);
  return canonicalRecipient(line);
}


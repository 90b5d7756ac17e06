import { mkdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { NixsealError, writeFileAtomic } from "../../core/index.js";
import type { CliIo } from "../io.js";

/**
 * The fallback identity file when no keychain is reachable:
 * $XDG_CONFIG_HOME/nixseal/identity.txt (default ~/.config/nixseal/identity.txt).
 */
export function defaultIdentityFile(io: CliIo): string {
  const config = io.env.XDG_CONFIG_HOME || join(io.env.HOME || "/root", ".config");
  return join(config, "nixseal", "identity.txt");
}

/** Writes the identity file (0600 in a 0700 dir), never over an existing one. */
export async function writeIdentityFile(file: string, identity: string, recipient: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  if (await exists(file)) {
    throw new NixsealError("NIXSEAL_ERR_IDENTITY_EXISTS", `${file} already exists`, {
      hints: ["nixseal uses it as your admin identity; move it away first if you want a new one"],
    });
  }
  const text = `# nixseal admin identity, created ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`;
  await writeFileAtomic(file, text, 0o600);
}

/** Reads an identity file, or null when it does not exist. Warns-worthy modes are checked by the caller. */
export async function readIdentityFileIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new NixsealError("NIXSEAL_ERR_IO", `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Whether a file is readable by group or others (an identity should not be). */
export async function isLoose(file: string): Promise<boolean> {
  return ((await stat(file)).mode & 0o077) !== 0;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

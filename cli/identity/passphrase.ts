import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { NixsealError } from "../../core/index.js";
import type { CliIo } from "../io.js";
import { canPrompt, promptHidden } from "../prompt.js";

/**
 * The passphrase source for an encrypted SSH key: NIXSEAL_PASSPHRASE_FILE when
 * set (first line, for scripts and CI), else a no-echo prompt on the terminal,
 * else an error that says how to provide one. Never argv or an env value.
 */
export function passphraseSource(io: CliIo, keyFile: string): () => Promise<string> {
  return async () => {
    const file = io.env.NIXSEAL_PASSPHRASE_FILE && resolve(io.cwd, io.env.NIXSEAL_PASSPHRASE_FILE);
    if (file) {
      try {
        return (await readFile(file, "utf8")).replace(/\r?\n[\s\S]*$/, "");
      } catch (err) {
        throw new NixsealError("NIXSEAL_ERR_IO", `cannot read NIXSEAL_PASSPHRASE_FILE ${file}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (canPrompt(io)) return promptHidden(io, `passphrase for ${keyFile}: `);
    throw new NixsealError("NIXSEAL_ERR_PASSPHRASE_REQUIRED", `${keyFile} is passphrase-protected and there is no terminal to ask on`, {
      hints: ["run on a terminal, or put the passphrase in a file (mode 0600) and set NIXSEAL_PASSPHRASE_FILE to its path"],
    });
  };
}

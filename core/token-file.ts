// Bearer tokens live in files, never in argv or the environment (both are visible to
// other users). The server reads its operator and host tokens this way, `nixseal push`
// the operator token, `nixseal-agent pull` the host's read token: the same checks, so
// a token file that one part accepts, the others accept too.
import { readFile, stat } from "node:fs/promises";
import { NixsealError } from "./errors.js";

/** How the reading part reports a bad token file: its own code and exit status. */
export interface TokenFileErrors {
  /** The NIXSEAL_ERR_* code of the part reading (e.g. its usage error). */
  code: string;
  /** The exit status its command line ends with (default 1). */
  exitCode?: number;
}

function fail(errors: TokenFileErrors, message: string, hint: string, cause?: unknown): NixsealError {
  return new NixsealError(errors.code, message, { hints: [hint], exitCode: errors.exitCode ?? 1, cause });
}

/**
 * Reads a file that holds credentials, refusing one that group or others may read
 * (as ssh does for a private key).
 *
 * @param file - the file's path
 * @param errors - the code and exit status to report problems with
 * @returns the file's text
 * @throws NixsealError (errors.code) when it cannot be read or is readable by others
 */
export async function readPrivateFile(file: string, errors: TokenFileErrors): Promise<string> {
  try {
    const st = await stat(file);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw fail(errors, `${file} is readable by others (mode ${mode}); refusing to use it for tokens`, `chmod 600 ${file}`);
    }
    return await readFile(file, "utf8");
  } catch (err) {
    if (err instanceof NixsealError) throw err;
    const why = (err as NodeJS.ErrnoException).code ?? "error";
    throw fail(errors, `cannot read the token file ${file}: ${why}`, "check the path: the file holds one token on one line", err);
  }
}

/**
 * Reads a token file: mode 0600 or stricter, one line of printable characters without
 * spaces (surrounding whitespace and the final newline are ignored).
 *
 * @param file - the file's path
 * @param errors - the code and exit status to report problems with
 * @param minLength - the shortest token accepted (a server sets 16; a client takes what it was given)
 * @returns the token
 * @throws NixsealError (errors.code) naming the file, never its content
 */
export async function readTokenFile(file: string, errors: TokenFileErrors, minLength = 1): Promise<string> {
  const token = (await readPrivateFile(file, errors)).trim();
  if (token.length < minLength || !/^[\x21-\x7e]+$/.test(token)) {
    const what = minLength > 1 ? `one token of ${minLength} or more printable characters, without spaces` : "one token on one line, printable characters without spaces";
    throw fail(errors, `${file} must hold ${what}`, minLength > 1 ? `make one: (umask 077; openssl rand -hex 32 > ${file})` : "write the token the server was started with into it (its --token-file, or the host's entry in --host-tokens)");
  }
  return token;
}

// How the operator's commands talk to a nixseal server (push, audit, fleet): the base
// URL, and the operator's credentials: a signature by an admin key of nixseal.json
// (--sign-key, the same key that signs bundles) or the server's operator token
// (--token-file or NIXSEAL_SERVER_TOKEN_FILE, for automation). Neither from argv.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { resolve } from "node:path";
import { requestJson, serverBaseUrl, type JsonRequest, type RequestSigner } from "../../core/http-json.js";
import { NixsealError, parseSshPrivateKey } from "../../core/index.js";
import type { SshPrivateKey } from "../../core/keys/ssh-private.js";
import { readTokenFile } from "../../core/token-file.js";
import { passphraseSource } from "../identity/passphrase.js";
import type { CliIo } from "../io.js";
import { printWarning } from "../output.js";

/** The largest reply the operator's commands read (the fleet report of thousands of hosts). */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

interface ServerFlags {
  server: string;
  tokenFile?: string;
  signKey?: string;
}

/** A connection to one server with the operator's credentials. */
export interface ServerClient {
  server: URL;
  /** The admin key, when --sign-key was given (it also signs bundles). */
  key?: SshPrivateKey;
  call(method: "GET" | "PUT" | "POST", path: string, body?: unknown, timeoutMs?: number): Promise<unknown>;
}

function isLoopback(url: URL): boolean {
  return /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);
}

/** Reads an OpenSSH private key (ssh-ed25519 or RSA; a passphrase is asked for when needed). */
async function loadSignKey(io: CliIo, file: string): Promise<SshPrivateKey> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `cannot read the signing key ${file}`, { cause: err, hints: ["pass --sign-key with your SSH private key, e.g. ~/.ssh/id_ed25519"] });
  }
  return parseSshPrivateKey(text, file, passphraseSource(io, file));
}

/**
 * Opens a client from the command's flags.
 *
 * @throws NixsealError NIXSEAL_ERR_SERVER_URL, NIXSEAL_ERR_SERVER_TOKEN_FILE (no credentials at all)
 */
export async function openServer(io: CliIo, flags: ServerFlags): Promise<ServerClient> {
  const server = serverBaseUrl(flags.server, { code: "NIXSEAL_ERR_SERVER_URL", exitCode: 2 });
  const tokenFile = flags.tokenFile ?? io.env.NIXSEAL_SERVER_TOKEN_FILE;
  if (!tokenFile && !flags.signKey) {
    throw new NixsealError("NIXSEAL_ERR_SERVER_TOKEN_FILE", "talking to the server needs an admin key or the server's operator token", {
      hints: ["pass --sign-key KEY (an ssh key listed as an admin in nixseal.json), or --token-file FILE / NIXSEAL_SERVER_TOKEN_FILE"],
      exitCode: 2,
    });
  }
  const token = tokenFile ? await readTokenFile(resolve(io.cwd, tokenFile), { code: "NIXSEAL_ERR_SERVER_TOKEN_FILE" }) : undefined;
  const key = flags.signKey ? await loadSignKey(io, resolve(io.cwd, flags.signKey)) : undefined;
  if (server.protocol === "http:" && !isLoopback(server)) printWarning(io, `${server.origin} is plain http: ${token ? "the token and " : ""}the ciphertext travel unencrypted`);
  // With a token, the token authenticates (automation); the key then only signs bundles.
  const signer: RequestSigner | undefined = !token && key ? { key, principal: { kind: "admin" } } : undefined;
  return {
    server,
    ...(key ? { key } : {}),
    call: (method, path, body, timeoutMs = 300_000) => {
      const req: JsonRequest = { method, timeoutMs, maxBytes: MAX_REPLY_BYTES, ...(body !== undefined ? { body } : {}), ...(token ? { token } : {}), ...(signer ? { signer } : {}) };
      return requestJson(server, path, req);
    },
  };
}

/** Adds the flags every server command takes: --server, --sign-key, --token-file. */
export function serverOptions(command: Command, signKeyNote = ""): Command {
  return command
    .requiredOption("--server <url>", "the server's base URL, e.g. https://secrets.example.org")
    .option("--sign-key <file>", `an admin's SSH private key (listed in nixseal.json): signs the requests${signKeyNote}`)
    .option("--token-file <file>", "file holding the server's operator token (default: $NIXSEAL_SERVER_TOKEN_FILE)");
}

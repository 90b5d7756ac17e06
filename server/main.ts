// nixseal-server's command line: read flags and token files, build the app, listen on
// 127.0.0.1 (default) or a unix socket until SIGTERM/SIGINT. TLS is a reverse proxy's
// job (see docs/server.md); the server itself never needs to face the network.
import { chmod, lstat, unlink } from "node:fs/promises";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { z } from "zod";
import { NixsealError, hostName, parseJsonText, validate } from "../core/index.js";
import { readPrivateFile, readTokenFile, type TokenFileErrors } from "../core/token-file.js";
import { DEFAULT_BODY_LIMIT, type BuildServerOptions } from "./app.js";
import { serverErrors } from "./errors.js";

export interface ServerIo {
  stdout: Writable;
  stderr: Writable;
}

export const DEFAULT_PORT = 8470;
/** Shorter tokens are refused: 16 random characters or more. */
export const MIN_TOKEN_LENGTH = 16;

const USAGE = `usage: nixseal-server --storage DIR --token-file FILE [--host-tokens FILE]
                      [--listen ADDRESS] [--port N] [--socket PATH] [--body-limit BYTES]

  --storage DIR        where bundles are kept (ciphertext and manifests only)
  --token-file FILE    the operator token that may push (mode 0600, one line)
  --host-tokens FILE   JSON {"HOST": "TOKEN", ...}: reads then need the host's token
  --listen ADDRESS     address to listen on (default 127.0.0.1)
  --port N             TCP port (default ${DEFAULT_PORT}; 0 picks a free one)
  --socket PATH        listen on a unix socket instead of TCP
  --body-limit BYTES   largest accepted request (default ${DEFAULT_BODY_LIMIT})

See docs/server.md.
`;

/** Where to listen: a TCP address and port, or a unix socket path. */
export type ListenTarget = { host: string; port: number } | { path: string };

export interface ServerSettings {
  listen: ListenTarget;
  options: Omit<BuildServerOptions, "logger">;
}

function usage(message: string): NixsealError {
  return serverErrors.usage([message]);
}

/** Token files are command-line input: their problems are usage errors (exit 2). */
const TOKEN_FILE_ERRORS: TokenFileErrors = { code: serverErrors.usage.code, exitCode: 2 };

function whole(flag: string, text: string, min: number): number {
  if (!/^\d{1,12}$/.test(text) || Number(text) < min) throw usage(`${flag} wants a whole number >= ${min}, not "${text}"`);
  return Number(text);
}

const hostTokensSchema = z.record(hostName, z.string().regex(/^[\x21-\x7e]+$/).min(MIN_TOKEN_LENGTH));

/** Parses the flags and reads the token files. */
export async function loadSettings(argv: string[]): Promise<ServerSettings | "help" | "version"> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        storage: { type: "string" },
        "token-file": { type: "string" },
        "host-tokens": { type: "string" },
        listen: { type: "string" },
        port: { type: "string" },
        socket: { type: "string" },
        "body-limit": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    }).values;
  } catch (err) {
    throw usage((err as Error).message.split("\n")[0]!.replace(/^./, (c) => c.toLowerCase()).replace(/\.$/, ""));
  }
  if (values.help) return "help";
  if (values.version) return "version";
  if (!values.storage) throw usage("--storage DIR is required");
  if (!values["token-file"]) throw usage("--token-file FILE is required (the operator token that may push)");
  if (values.socket && (values.listen || values.port)) throw usage("--socket excludes --listen and --port");
  const operatorToken = await readTokenFile(values["token-file"], TOKEN_FILE_ERRORS, MIN_TOKEN_LENGTH);
  let hostTokens: Record<string, string> | undefined;
  if (values["host-tokens"]) {
    const file = values["host-tokens"];
    hostTokens = validate(hostTokensSchema, parseJsonText(await readPrivateFile(file, TOKEN_FILE_ERRORS), file), file);
  }
  const listen: ListenTarget = values.socket ? { path: values.socket } : { host: values.listen ?? "127.0.0.1", port: values.port ? whole("--port", values.port, 0) : DEFAULT_PORT };
  return {
    listen,
    options: {
      storageDir: values.storage,
      operatorToken,
      ...(hostTokens ? { hostTokens } : {}),
      bodyLimit: values["body-limit"] ? whole("--body-limit", values["body-limit"], 1024) : DEFAULT_BODY_LIMIT,
    },
  };
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    if ((await lstat(path)).isSocket()) await unlink(path);
  } catch {
    // none there
  }
}

/**
 * Runs the server until SIGTERM or SIGINT.
 *
 * @returns the exit code
 */
export async function main(argv: string[], io: ServerIo): Promise<number> {
  try {
    const settings = await loadSettings(argv);
    if (settings === "help") {
      io.stdout.write(USAGE);
      return 0;
    }
    if (settings === "version") {
      io.stdout.write("nixseal-server 0.1.0\n");
      return 0;
    }
    const { buildServer } = await import("./app.js");
    const app = await buildServer({ ...settings.options, logger: { level: "info" } });
    if ("path" in settings.listen) {
      await removeStaleSocket(settings.listen.path);
      await app.listen({ path: settings.listen.path });
      // The reverse proxy in front usually runs as another user of the same group.
      await chmod(settings.listen.path, 0o660);
      io.stderr.write(`nixseal-server: listening on ${settings.listen.path}\n`);
    } else {
      io.stderr.write(`nixseal-server: listening on ${await app.listen(settings.listen)}\n`);
    }
    await new Promise<void>((resolve) => {
      const stop = () => void app.close().then(() => resolve());
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
    return 0;
  } catch (err) {
    if (err instanceof NixsealError) {
      io.stderr.write(`nixseal-server: error: ${err.message}\n`);
      for (const h of err.hints) io.stderr.write(`nixseal-server: hint: ${h}\n`);
      return err.exitCode;
    }
    io.stderr.write(`nixseal-server: error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

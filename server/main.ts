// nixseal-server's command line: read flags and token files, build the app, listen on
// 127.0.0.1 (default) or a unix socket until SIGTERM/SIGINT. TLS is a reverse proxy's
// job (see docs/server.md); the server itself never needs to face the network.
import { chmod, lstat, readFile, unlink } from "node:fs/promises";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { NixsealError } from "../core/index.js";
import { printError } from "../core/print-error.js";
import { canonicalSshLine, parseSshPublicKey } from "../core/keys/ssh-public.js";
import { readTokenFile, type TokenFileErrors } from "../core/token-file.js";
import { DEFAULT_BODY_LIMIT, DEFAULT_MAX_SKEW_SECONDS, type BuildServerOptions } from "./app.js";
import { serverErrors } from "./errors.js";
import { FileStore } from "./store/file.js";
import type { Store } from "./store/types.js";
import { nixsealVersion } from "../core/version.js";

interface ServerIo {
  stdout: Writable;
  stderr: Writable;
}

const DEFAULT_PORT = 8470;
/** Shorter tokens are refused: 16 random characters or more. */
const MIN_TOKEN_LENGTH = 16;

const USAGE = `usage: nixseal-server (--storage DIR | --postgres CONNINFO)
                      [--token-file FILE] [--admin-keys FILE]
                      [--listen ADDRESS] [--port N] [--socket PATH]
                      [--body-limit BYTES] [--max-skew SECONDS]

  --storage DIR        the embedded store: one directory, one server process
  --postgres CONNINFO  PostgreSQL (several replicas), e.g. "host=/run/postgresql dbname=nixseal";
                       no password in it: use a .pgpass file (PGPASSFILE) or peer auth
  --token-file FILE    an operator token that may push (mode 0600, one line): for automation
  --admin-keys FILE    ssh public keys (one a line) that may push besides the admins of the
                       pushed fleet state: how the first push gets in without a token
  --listen ADDRESS     address to listen on (default 127.0.0.1)
  --port N             TCP port (default ${DEFAULT_PORT}; 0 picks a free one)
  --socket PATH        listen on a unix socket instead of TCP
  --body-limit BYTES   largest accepted request (default ${DEFAULT_BODY_LIMIT})
  --max-skew SECONDS   how far a signed request's time may be from this clock (default ${DEFAULT_MAX_SKEW_SECONDS})

See docs/server.md.
`;

/** Where to listen: a TCP address and port, or a unix socket path. */
type ListenTarget = { host: string; port: number } | { path: string };

/** Where the server keeps its state. */
type StoreTarget = { kind: "file"; dir: string } | { kind: "postgres"; connectionString: string };

interface ServerSettings {
  listen: ListenTarget;
  store: StoreTarget;
  options: Omit<BuildServerOptions, "logger" | "store" | "storageDir">;
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

/** Reads an --admin-keys file: ssh-ed25519 / ssh-rsa public key lines; the comment names the admin. */
async function readAdminKeys(file: string): Promise<Array<{ name: string; key: string }>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw usage(`cannot read --admin-keys ${file}`);
  }
  const out: Array<{ name: string; key: string }> = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "" || line.trim().startsWith("#")) return;
    let key;
    try {
      key = parseSshPublicKey(line, `${file}:${i + 1}`);
    } catch (err) {
      throw usage(err instanceof Error ? err.message : `${file}:${i + 1}: not an ssh public key`);
    }
    out.push({ name: key.comment || `${file}:${i + 1}`, key: canonicalSshLine(key) });
  });
  if (out.length === 0) throw usage(`--admin-keys ${file} holds no ssh public key`);
  return out;
}

/** Parses the flags and reads the token and key files. */
async function loadSettings(argv: string[]): Promise<ServerSettings | "help" | "version"> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        storage: { type: "string" },
        postgres: { type: "string" },
        "token-file": { type: "string" },
        "admin-keys": { type: "string" },
        listen: { type: "string" },
        port: { type: "string" },
        socket: { type: "string" },
        "body-limit": { type: "string" },
        "max-skew": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    }).values;
  } catch (err) {
    throw usage((err as Error).message.split("\n")[0]!.replace(/^./, (c) => c.toLowerCase()).replace(/\.$/, ""));
  }
  if (values.help) return "help";
  if (values.version) return "version";
  if (!values.storage === !values.postgres) throw usage("give one of --storage DIR (the embedded store) or --postgres CONNINFO");
  if (values.postgres !== undefined && /password\s*=|:\/\/[^/@]*:[^/@]*@/i.test(values.postgres)) {
    throw usage("--postgres must not hold a password (process lists show it): use a .pgpass file (PGPASSFILE) or peer authentication");
  }
  if (values.socket && (values.listen || values.port)) throw usage("--socket excludes --listen and --port");
  const operatorToken = values["token-file"] ? await readTokenFile(values["token-file"], TOKEN_FILE_ERRORS, MIN_TOKEN_LENGTH) : undefined;
  const adminKeys = values["admin-keys"] ? await readAdminKeys(values["admin-keys"]) : undefined;
  const listen: ListenTarget = values.socket ? { path: values.socket } : { host: values.listen ?? "127.0.0.1", port: values.port ? whole("--port", values.port, 0) : DEFAULT_PORT };
  return {
    listen,
    store: values.storage ? { kind: "file", dir: values.storage } : { kind: "postgres", connectionString: values.postgres! },
    options: {
      ...(operatorToken !== undefined ? { operatorToken } : {}),
      ...(adminKeys ? { adminKeys } : {}),
      bodyLimit: values["body-limit"] ? whole("--body-limit", values["body-limit"], 1024) : DEFAULT_BODY_LIMIT,
      maxSkewSeconds: values["max-skew"] ? whole("--max-skew", values["max-skew"], 1) : DEFAULT_MAX_SKEW_SECONDS,
    },
  };
}

/** Opens the store the settings name. */
async function openStore(target: StoreTarget): Promise<Store> {
  const store: Store =
    target.kind === "file" ? new FileStore(target.dir) : new (await import("./store/postgres.js")).PostgresStore({ connectionString: target.connectionString });
  await store.init();
  return store;
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
      io.stdout.write(`nixseal-server ${nixsealVersion()}\n`);
      return 0;
    }
    const { buildServer } = await import("./app.js");
    const store = await openStore(settings.store);
    if (settings.options.operatorToken === undefined && !settings.options.adminKeys && !(await store.fleet())?.state.admins.length) {
      await store.close();
      throw usage("nobody could push to this server: give --token-file FILE or --admin-keys FILE");
    }
    const app = await buildServer({ ...settings.options, store, logger: { level: "info" } });
    app.addHook("onClose", async () => store.close());
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
    return printError(io.stderr, "nixseal-server", err);
  }
}

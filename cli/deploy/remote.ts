// Running commands on a host over an open SSH connection. Scripts go to `sh -s` on
// stdin so nothing is quoted into a remote command line.
import type { NodeSSH } from "node-ssh";
import { NixsealError } from "../../core/index.js";

/** Outcome of one remote command. */
interface RemoteResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** The bits of ssh2's Client deploy uses (ssh2 ships no types here). */
interface RawClient {
  exec(cmd: string, cb: (err: Error | undefined, channel: RawChannel) => void): unknown;
  openssh_forwardOutStreamLocal(path: string, cb: (err: Error | undefined, channel: RawChannel) => void): unknown;
  on(event: "close" | "error" | "end", fn: (...args: unknown[]) => void): unknown;
  removeListener(event: string, fn: (...args: unknown[]) => void): unknown;
  end(): void;
}
export interface RawChannel extends NodeJS.ReadWriteStream {
  stderr: NodeJS.ReadableStream;
  on(event: string, fn: (...args: any[]) => void): this;
  close(): void;
  end(data?: unknown): this;
}

/** The ssh2 client under a node-ssh connection. */
export function rawClient(ssh: NodeSSH): RawClient {
  if (!ssh.connection) throw new NixsealError("NIXSEAL_ERR_DEPLOY_CONNECT", "ssh connection is closed");
  return ssh.connection as unknown as RawClient;
}

/**
 * Settles with p, or rejects as soon as the SSH connection closes: some ssh2/node-ssh
 * operations (sftp transfers) never settle when the connection dies under them.
 */
export function whileConnected<T>(ssh: NodeSSH, p: Promise<T>, what: string): Promise<T> {
  const client = ssh.connection as unknown as RawClient | null;
  if (!client || !ssh.isConnected()) return Promise.reject(new NixsealError("NIXSEAL_ERR_DEPLOY_CONNECT", `ssh connection lost before ${what}`));
  return new Promise<T>((resolve, reject) => {
    const onClose = () => reject(new NixsealError("NIXSEAL_ERR_DEPLOY_CONNECT", `ssh connection lost during ${what}`));
    client.on("close", onClose);
    p.then(resolve, reject).finally(() => client.removeListener("close", onClose));
  });
}

/** Opens an exec channel (a promise over ssh2's callback). */
export function openExec(ssh: NodeSSH, cmd: string): Promise<RawChannel> {
  return new Promise((resolve, reject) => {
    try {
      rawClient(ssh).exec(cmd, (err, ch) => (err ? reject(err) : resolve(ch)));
    } catch (err) {
      reject(err);
    }
  });
}

/**
 * Runs a command and collects its output; rejects if the connection drops first.
 *
 * @param stdin - bytes for the command's stdin (then EOF)
 * @param onOutput - called with each chunk of stdout/stderr, for live logs
 */
export async function runRemote(
  ssh: NodeSSH,
  cmd: string,
  opts: { stdin?: string; onOutput?: (chunk: string) => void } = {},
): Promise<RemoteResult> {
  const ch = await openExec(ssh, cmd);
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let code: number | null = null;
    let signal: string | null = null;
    let exited = false;
    ch.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
      opts.onOutput?.(d.toString("utf8"));
    });
    ch.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
      opts.onOutput?.(d.toString("utf8"));
    });
    ch.on("exit", (c: number | null, s?: string) => {
      exited = true;
      code = c;
      signal = s ?? null;
    });
    ch.on("close", () => {
      if (!exited) reject(new NixsealError("NIXSEAL_ERR_DEPLOY_CONNECT", `ssh connection dropped while running "${cmd.split(" ")[0]}"`));
      else resolve({ code, signal, stdout, stderr });
    });
    ch.on("error", reject);
    ch.end(opts.stdin ?? "");
  });
}

/** Runs a shell script (on stdin of `sh -s`) with positional arguments quoted safely. */
export function runScript(ssh: NodeSSH, script: string, args: string[] = [], onOutput?: (chunk: string) => void): Promise<RemoteResult> {
  return runRemote(ssh, ["sh", "-s", "--", ...args].map(shellQuote).join(" "), { stdin: script, onOutput });
}

/** Single-quotes a word for a POSIX shell. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The last lines of a command's output, for error reports. */
export function tail(text: string, lines = 6): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

// One SSH connection to one host, with the host key pinned to the one registered in
// nixseal.json: no trust on first use after registration, ever.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { NodeSSH } from "node-ssh";
import { NixsealError, type SshTarget } from "../../core/index.js";
import { fingerprintOf, parsePinnedHostKey } from "./host-key.js";

/** What connectHost needs to know about one host. */
interface ConnectOptions {
  hostName: string;
  target: SshTarget;
  /** The registered host key line (authorized_keys format). */
  hostKey: string;
  /** Explicit private key file (--ssh-key, or the host's sshKey). */
  sshKey?: string;
  env: Record<string, string | undefined>;
  readyTimeoutMs?: number;
}

/** Auth material: the ssh-agent socket and/or one private key (never logged). */
interface SshAuth {
  agent?: string;
  privateKey?: string;
  keyFile?: string;
}

/**
 * Picks authentication the way ssh does: the agent when SSH_AUTH_SOCK is set, plus an
 * explicit key file, else the first of ~/.ssh/id_ed25519, ~/.ssh/id_rsa that exists.
 *
 * @throws NixsealError NIXSEAL_ERR_DEPLOY_AUTH when there is nothing to authenticate with
 */
async function pickAuth(hostName: string, sshKey: string | undefined, env: Record<string, string | undefined>): Promise<SshAuth> {
  const auth: SshAuth = {};
  if (env.SSH_AUTH_SOCK) auth.agent = env.SSH_AUTH_SOCK;
  const home = env.HOME ?? homedir();
  const candidates = sshKey ? [sshKey] : [join(home, ".ssh", "id_ed25519"), join(home, ".ssh", "id_rsa")];
  const keyFile = candidates.find((f) => existsSync(f));
  if (sshKey && !keyFile) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_AUTH", `host "${hostName}": ssh key ${sshKey} does not exist`, {
      hints: ["pass an existing private key with --ssh-key FILE, or set the host's sshKey"],
    });
  }
  if (keyFile) {
    const text = await readFile(keyFile, "utf8");
    // With an agent, a passphrase-protected key file is left to the agent (it holds it
    // unlocked, or the login fails with a clear message); without one it is reported.
    if (!(auth.agent && isEncryptedKey(text))) {
      auth.keyFile = keyFile;
      auth.privateKey = text;
    }
  }
  if (!auth.agent && !auth.privateKey) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_AUTH", `host "${hostName}": no ssh-agent and no ssh key to log in with`, {
      hints: ["start ssh-agent and ssh-add your key, or pass --ssh-key FILE"],
    });
  }
  return auth;
}

/**
 * Opens an SSH connection whose host key must equal the registered one. The client only
 * offers the registered key's algorithms, so the server presents that key; any other key
 * stops the handshake before authentication, so nothing can be uploaded.
 *
 * @throws NixsealError NIXSEAL_ERR_DEPLOY_HOST_KEY on a mismatch, NIXSEAL_ERR_DEPLOY_CONNECT
 * or NIXSEAL_ERR_DEPLOY_AUTH otherwise
 */
export async function connectHost(opts: ConnectOptions): Promise<NodeSSH> {
  const pinned = parsePinnedHostKey(opts.hostKey, opts.hostName);
  const auth = await pickAuth(opts.hostName, opts.sshKey, opts.env);
  let offered: Buffer | undefined;
  // node-ssh (ssh2 underneath) costs ~70-140 ms to load: only commands that connect pay it.
  const { NodeSSH } = await import("node-ssh");
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host: opts.target.host,
      port: opts.target.port,
      username: opts.target.user,
      agent: auth.agent,
      privateKey: auth.privateKey,
      readyTimeout: opts.readyTimeoutMs ?? 20_000,
      keepaliveInterval: 5_000,
      keepaliveCountMax: 3,
      algorithms: { serverHostKey: pinned.algorithms },
      hostVerifier: (key: Buffer) => {
        offered = Buffer.from(key);
        return offered.equals(pinned.blob);
      },
    } as Parameters<NodeSSH["connect"]>[0]);
  } catch (err) {
    ssh.dispose();
    const where = `${opts.target.user}@${opts.target.host}:${opts.target.port}`;
    if (offered && !offered.equals(pinned.blob)) {
      throw new NixsealError(
        "NIXSEAL_ERR_DEPLOY_HOST_KEY",
        `host "${opts.hostName}" (${where}) presented host key ${fingerprintOf(offered)}, but nixseal.json pins ${fingerprintOf(pinned.blob)}: refusing to connect`,
        {
          cause: err,
          hints: [
            "if the host was reinstalled or its key rotated on purpose, check the new key out of band, then run " +
              `"nixseal host set-key ${opts.hostName}" (this re-encrypts its secrets)`,
            "otherwise something else answers at that address: do not deploy to it",
          ],
        },
      );
    }
    const message = err instanceof Error ? err.message : String(err);
    if (/authentication methods failed|auth/i.test(message) && offered) {
      throw new NixsealError("NIXSEAL_ERR_DEPLOY_AUTH", `host "${opts.hostName}" (${where}): ssh login as ${opts.target.user} refused`, {
        cause: err,
        hints: [`authorise your key for ${opts.target.user} on the host, load it into ssh-agent, or pass --ssh-key FILE`],
      });
    }
    if (/passphrase/i.test(message)) {
      throw new NixsealError("NIXSEAL_ERR_DEPLOY_AUTH", `host "${opts.hostName}": ssh key ${auth.keyFile ?? ""} is passphrase-protected`, {
        cause: err,
        hints: ["load it into ssh-agent (ssh-add) so deploy can use it"],
      });
    }
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_CONNECT", `host "${opts.hostName}": cannot connect to ${where}: ${message}`, {
      cause: err,
      hints: ["check that the host is up and its sshd listens there (nixseal host list shows the target)"],
    });
  }
  // A dropped connection shows up as closed channels and failed requests where it matters;
  // without a listener here, ssh2's late socket errors (ECONNRESET) would crash the process.
  (ssh.connection as unknown as { on(e: string, f: () => void): void } | null)?.on("error", () => undefined);
  return ssh;
}

/** Whether an OpenSSH (openssh-key-v1) or PEM private key is passphrase-protected. */
export function isEncryptedKey(text: string): boolean {
  if (/Proc-Type:\s*4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/.test(text)) return true;
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!m) return false;
  const raw = Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
  const magic = "openssh-key-v1\0";
  if (raw.subarray(0, magic.length).toString("latin1") !== magic || raw.length < magic.length + 4) return false;
  const len = raw.readUInt32BE(magic.length);
  return raw.subarray(magic.length + 4, magic.length + 4 + len).toString("latin1") !== "none";
}

// `host add --scan`: connect to the target over SSH only far enough to see the
// host key it offers (the handshake is aborted before any authentication).
import { NixsealError, type SshTarget } from "../core/index.js";

/**
 * The host key the target offers, as an authorized_keys line (ssh-ed25519
 * preferred, else ssh-rsa).
 *
 * @throws NixsealError NIXSEAL_ERR_SCAN_FAILED when nothing answers or no key type fits
 */
export async function scanHostKey(target: SshTarget, timeoutMs = 10_000): Promise<string> {
  let offered: Buffer | undefined;
  // Loaded here, not at startup: node-ssh costs ~140 ms to import and only --scan needs it.
  const { NodeSSH } = await import("node-ssh");
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] },
      hostVerifier: (key: Buffer) => {
        offered = Buffer.from(key);
        return false; // stop here: we only wanted the key
      },
    });
  } catch (err) {
    if (!offered) {
      throw new NixsealError("NIXSEAL_ERR_SCAN_FAILED", `cannot read the host key of ${target.host}:${target.port}: ${(err as Error).message}`, {
        hints: ["check that the host is up and its sshd listens there", 'or give the key yourself: --key "$(cat /etc/ssh/ssh_host_ed25519_key.pub)" from the host'],
        cause: err,
      });
    }
  } finally {
    ssh.dispose();
  }
  if (!offered) throw new NixsealError("NIXSEAL_ERR_SCAN_FAILED", `${target.host}:${target.port} offered no host key`);
  const typeLen = offered.readUInt32BE(0);
  const type = offered.subarray(4, 4 + typeLen).toString("latin1");
  return `${type} ${offered.toString("base64")}`;
}

import { createHash } from "node:crypto";
import { NixsealError } from "../../core/index.js";

/** A registered SSH host key, reduced to what the SSH handshake compares. */
interface PinnedHostKey {
  /** Key type as it appears in the line, e.g. ssh-ed25519. */
  type: string;
  /** The raw public key blob (what the server sends in KEXDH_REPLY). */
  blob: Buffer;
  /** Host key algorithms that make the server offer exactly this key. */
  algorithms: string[];
}

const ALGORITHMS: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
};

/**
 * Parses the host key line from nixseal.json (`ssh-ed25519 AAAA… [comment]`).
 *
 * @throws NixsealError NIXSEAL_ERR_DEPLOY_HOST_KEY when the line is not a usable SSH public key
 */
export function parsePinnedHostKey(line: string, hostName: string): PinnedHostKey {
  const [type, b64] = line.trim().split(/\s+/);
  const algorithms = type === undefined ? undefined : ALGORITHMS[type];
  const blob = b64 === undefined ? Buffer.alloc(0) : Buffer.from(b64, "base64");
  // The blob starts with its own type string; a mismatch means a damaged line.
  const inner = blob.length > 4 ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString("latin1") : "";
  if (!algorithms || inner !== type) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_HOST_KEY", `host "${hostName}": its registered host key is not an SSH public key deploy can pin`, {
      hints: [`register it again with "nixseal host set-key ${hostName}"`],
    });
  }
  return { type: type!, blob, algorithms };
}

/** `SHA256:…` fingerprint of a raw key blob, as ssh-keygen -l prints it. */
export function fingerprintOf(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

import type { z } from "zod";
import {
  NixsealError,
  absolutePath,
  hostName,
  parseRecipient,
  parseSshTarget,
  principal,
  secretName,
  unitName,
  type SshTarget,
} from "../../core/index.js";

// Names are shown with JSON quoting so a NUL or control byte is visible, not printed raw.
function check(schema: z.ZodType, value: string, what: string, hint: string): string {
  const r = schema.safeParse(value);
  if (r.success) return value;
  throw new NixsealError("NIXSEAL_ERR_BAD_NAME", `${JSON.stringify(value)} is not a valid ${what}: ${r.error.issues[0]!.message}`, { hints: [hint] });
}

/** @throws NixsealError NIXSEAL_ERR_BAD_NAME (no "/", "..", leading dot, NUL, …) */
export const checkSecretName = (v: string): string => check(secretName, v, "secret name", "e.g. db-password or nginx.tls.key");
/** @throws NixsealError NIXSEAL_ERR_BAD_NAME */
export const checkHostName = (v: string): string => check(hostName, v, "host name", "e.g. web1 (lowercase letters, digits, -)");
/** @throws NixsealError NIXSEAL_ERR_BAD_NAME */
export const checkPrincipal = (v: string): string => check(principal, v, "user or group", "e.g. nginx, or a numeric id");
/** @throws NixsealError NIXSEAL_ERR_BAD_NAME */
export const checkUnit = (v: string): string => check(unitName, v, "systemd unit", "e.g. nginx.service");
/** @throws NixsealError NIXSEAL_ERR_BAD_NAME */
export const checkPath = (v: string): string => check(absolutePath, v, "path", "an absolute path such as /run/keys/db");

/**
 * Parses --target: user@address[:port] (IPv6 in brackets: root@[::1]:22).
 *
 * @throws NixsealError NIXSEAL_ERR_BAD_TARGET
 */
export function parseTarget(target: string): SshTarget {
  const t = parseSshTarget(target);
  if (!t) {
    throw new NixsealError("NIXSEAL_ERR_BAD_TARGET", `${JSON.stringify(target)} is not an ssh target`, {
      hints: ["write it as user@address[:port], e.g. root@192.0.2.10 or root@web1.example:2222"],
    });
  }
  return t;
}

/**
 * Deploy logs in as root: the agent's socket is root's only (0600) and so is /etc/nixos.
 *
 * @throws NixsealError NIXSEAL_ERR_TARGET_NOT_ROOT for any other user
 */
export function checkRootTarget(t: SshTarget, hostName?: string): SshTarget {
  if (t.user === "root") return t;
  const where = `${t.host.includes(":") ? `[${t.host}]` : t.host}${t.port === 22 ? "" : `:${t.port}`}`;
  throw new NixsealError("NIXSEAL_ERR_TARGET_NOT_ROOT", `${hostName ? `host "${hostName}": ` : ""}deploy logs in as root, not "${t.user}": the agent's socket and /etc/nixos belong to root`, {
    hints: [
      `use ${hostName ? `"nixseal host set ${hostName} --target root@${where}"` : `--target root@${where}`} and authorise your SSH key for root on the host (key logins only: PermitRootLogin prohibit-password)`,
      "sudo is not used: the agent's root-only socket is reached by forwarding it over the SSH connection, which only a root login can do",
    ],
  });
}

/** A host tag: the host-name rule (lowercase letters, digits, -). */
export const checkTag = (v: string): string => check(hostName, v.replace(/^@/, ""), "tag", "e.g. web or db-eu (lowercase letters, digits, -)");

/**
 * Checks an SSH host key line (ssh-ed25519 or ssh-rsa) and returns it trimmed.
 *
 * @throws NixsealError NIXSEAL_ERR_BAD_KEY
 */
export async function checkHostKey(line: string, source: string): Promise<string> {
  const trimmed = line.trim();
  if (!/^(ssh-ed25519|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$/.test(trimmed)) {
    throw new NixsealError("NIXSEAL_ERR_BAD_KEY", `${source}: not an SSH host public key (ssh-ed25519 or ssh-rsa)`, {
      hints: ['give the line of /etc/ssh/ssh_host_ed25519_key.pub, e.g. --key "ssh-ed25519 AAAA…", or use --scan'],
    });
  }
  try {
    await parseRecipient(trimmed, source);
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_BAD_KEY", `${source}: not a usable SSH host key: ${(err as Error).message}`, {
      hints: ["copy the whole line of /etc/ssh/ssh_host_ed25519_key.pub from the host, or use --scan"],
      cause: err,
    });
  }
  return trimmed;
}

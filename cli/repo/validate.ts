import type { z } from "zod";
import {
  HOST_KEY_PATHS,
  HOST_PATHS,
  NixsealError,
  duplicateSecretPath,
  hostName,
  managedHostPaths,
  parseRecipient,
  parseSshTarget,
  principal,
  secretName,
  secretPathProblem,
  unitName,
  type Repo,
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
/** What nixseal manages on a host of the default layout: no secret's path may touch it. */
const MANAGED = managedHostPaths({ ...HOST_PATHS, identityPaths: HOST_KEY_PATHS });
const PATH_HINT = "an absolute, normalised path outside nixseal's own directories, such as /etc/app/db.key";

/**
 * A secret's `path`: core's one rule (secret-path.ts), against the default on-host
 * layout; the agent checks it again against its own.
 *
 * @throws NixsealError NIXSEAL_ERR_BAD_NAME
 */
export function checkPath(v: string): string {
  const problem = secretPathProblem(v, MANAGED);
  if (problem) throw new NixsealError("NIXSEAL_ERR_BAD_NAME", `${JSON.stringify(v)} is not a valid path: ${problem}`, { hints: [PATH_HINT] });
  return v;
}

type PathHolder = { hosts: string[]; path?: string };

/**
 * No two secrets or templates of one host share a `path` (one link points at one file),
 * and every path follows the rule: the repo as it would be saved, host by host.
 *
 * @param hosts - the hosts to check (default every host)
 * @throws NixsealError NIXSEAL_ERR_BAD_NAME naming the secret(s) and the host
 */
export function checkRepoPaths(repo: { hosts: Repo["hosts"]; secrets: Record<string, PathHolder>; templates?: Record<string, PathHolder> | undefined }, hosts: readonly string[] = Object.keys(repo.hosts)): void {
  const all = [
    ...Object.entries(repo.secrets).map(([name, s]) => ({ name, what: "secret", command: "secrets", ...s })),
    ...Object.entries(repo.templates ?? {}).map(([name, t]) => ({ name, what: "template", command: "template", ...t })),
  ].filter((x) => x.hosts.some((h) => hosts.includes(h)));
  for (const x of all) {
    const problem = x.path === undefined ? undefined : secretPathProblem(x.path, MANAGED);
    if (problem) {
      throw new NixsealError("NIXSEAL_ERR_BAD_NAME", `${x.what} "${x.name}": ${JSON.stringify(x.path)} is not a valid path: ${problem}`, {
        hints: [`nixseal ${x.command} set ${x.name} --path P (${PATH_HINT}), or --no-path`],
      });
    }
  }
  for (const host of hosts) {
    const dup = duplicateSecretPath(all.filter((x) => x.hosts.includes(host)));
    if (dup) {
      const second = all.find((x) => x.name === dup.names[1])!;
      throw new NixsealError("NIXSEAL_ERR_BAD_NAME", `secrets "${dup.names[0]}" and "${dup.names[1]}" both have path ${JSON.stringify(dup.path)} on host "${host}"`, {
        hints: [`give each its own path: nixseal ${second.command} set ${dup.names[1]} --path P (or --no-path)`],
      });
    }
  }
}

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

// How nixseal reaches a host: a registered `user@address[:port]`, IPv6 in brackets
// (`root@[::1]:22`). The one parser: `host add` and `host set` check --target with it,
// nixseal.json's schema refuses a hand-edited target it does not read, and deploy
// splits the registered target with it. Each caller says what a refusal means there.

/** Where to reach a host over SSH. */
export interface SshTarget {
  user: string;
  /** Name or address; IPv6 without its brackets. */
  host: string;
  port: number;
}

const TARGET = /^([A-Za-z0-9._-]+)@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?$/;

/** What a target must look like, for messages. */
export const SSH_TARGET_FORM = "user@address[:port]";

/**
 * Parses `user@address[:port]`.
 *
 * @param text - the target as registered or given on the command line
 * @returns its parts, or undefined when it is not of that form (or the port is not 1-65535)
 */
export function parseSshTarget(text: string): SshTarget | undefined {
  const m = TARGET.exec(text);
  const port = m?.[3] === undefined ? 22 : Number(m[3]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { user: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ""), port };
}

/**
 * The address and port for messages.
 *
 * @returns `address:port`, an IPv6 address in brackets
 */
export function formatAddress(t: SshTarget): string {
  return `${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}`;
}

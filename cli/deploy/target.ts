import { NixsealError } from "../../core/index.js";

/** Where to reach a host over SSH, parsed from a registered `user@address[:port]`. */
export interface SshTarget {
  user: string;
  host: string;
  port: number;
}

/**
 * Parses `user@address[:port]` (IPv6 as `user@[::1]:22`).
 *
 * @throws NixsealError NIXSEAL_ERR_DEPLOY_TARGET when the target is malformed
 */
export function parseTarget(target: string, hostName: string): SshTarget {
  const m = /^([A-Za-z0-9._-]+)@(\[[0-9a-fA-F:]+\]|[^\s@:\[\]]+)(?::(\d{1,5}))?$/.exec(target);
  const port = m?.[3] === undefined ? 22 : Number(m[3]);
  if (!m || port < 1 || port > 65535) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_TARGET", `host "${hostName}": target "${target}" is not user@address[:port]`, {
      hints: [`fix it with "nixseal host set ${hostName} --target root@ADDRESS[:PORT]"`],
    });
  }
  return { user: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ""), port };
}

import { NixsealError, parseSshTarget, type SshTarget } from "../../core/index.js";

/**
 * Splits a registered target for the connection (nixseal.json's schema already checked it).
 *
 * @throws NixsealError NIXSEAL_ERR_DEPLOY_TARGET when the target is malformed
 */
export function parseTarget(target: string, hostName: string): SshTarget {
  const t = parseSshTarget(target);
  if (!t) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_TARGET", `host "${hostName}": target "${target}" is not user@address[:port]`, {
      hints: [`fix it with "nixseal host set ${hostName} --target root@ADDRESS[:PORT]"`],
    });
  }
  return t;
}

// Upload of config and bundle into a private staging dir on the host (sftp). Only
// ciphertext and config travel; nothing is installed until the agent has checked it.
import { randomBytes } from "node:crypto";
import type { NodeSSH } from "node-ssh";
import { HOST_PATHS, NixsealError } from "../../core/index.js";
import { runScript, tail, whileConnected } from "./remote.js";

const STAGING_ROOT = HOST_PATHS.staging;

/** Paths of one deploy's staging dir on the host. */
export interface Staging {
  dir: string;
  config: string;
  bundle: string;
}

// Runs under the deploy lock: any other staging dir belongs to a deploy that died.
const PREPARE = `
set -eu
mkdir -p ${STAGING_ROOT} && chmod 0700 ${STAGING_ROOT}
find ${STAGING_ROOT} -mindepth 1 -maxdepth 1 -exec rm -rf {} +
mkdir -m 0700 "$1"
`;

/** Creates a fresh staging dir (clearing leftovers of dead deploys). */
export async function prepareStaging(ssh: NodeSSH, hostName: string): Promise<Staging> {
  const dir = `${STAGING_ROOT}/${new Date().toISOString().replace(/[-:.]/g, "")}-${randomBytes(4).toString("hex")}`;
  const r = await runScript(ssh, PREPARE, [dir]);
  if (r.code !== 0) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_UPLOAD", `host "${hostName}": cannot create staging dir ${dir}: ${tail(r.stderr, 3)}`);
  }
  return { dir, config: `${dir}/config`, bundle: `${dir}/bundle` };
}

/** Removes the staging dir (best effort: the next deploy clears leftovers too). */
export async function removeStaging(ssh: NodeSSH, staging: Staging): Promise<void> {
  await runScript(ssh, `rm -rf "$1"`, [staging.dir]).catch(() => undefined);
}

/**
 * Copies a local directory tree to the host.
 *
 * @throws NixsealError NIXSEAL_ERR_DEPLOY_UPLOAD when any file did not arrive or the connection dropped
 */
export async function uploadDir(ssh: NodeSSH, hostName: string, local: string, remote: string, onFile?: (path: string) => void): Promise<number> {
  const failed: string[] = [];
  let count = 0;
  let ok: boolean;
  try {
    ok = await whileConnected(ssh, ssh.putDirectory(local, remote, {
      recursive: true,
      concurrency: 4,
      tick: (localFile: string, _remoteFile: string, error: Error | null) => {
        if (error) failed.push(localFile);
        else {
          count++;
          onFile?.(localFile);
        }
      },
    }), `the upload to ${remote}`);
  } catch (err) {
    if (err instanceof NixsealError && err.code === "NIXSEAL_ERR_DEPLOY_CONNECT") {
      throw new NixsealError("NIXSEAL_ERR_DEPLOY_CONNECT", `host "${hostName}": ${err.message}`, {
        cause: err,
        hints: ["nothing was installed; check the connection and deploy again"],
      });
    }
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_UPLOAD", `host "${hostName}": upload to ${remote} failed: ${(err as Error).message}`, {
      cause: err,
      hints: ["nothing was installed; check the connection and deploy again"],
    });
  }
  if (!ok || failed.length > 0 || !ssh.isConnected()) {
    throw new NixsealError("NIXSEAL_ERR_DEPLOY_UPLOAD", `host "${hostName}": upload to ${remote} failed (${failed.length} file(s) did not arrive${ssh.isConnected() ? "" : ", connection lost"})`, {
      hints: ["nothing was installed; check the connection and deploy again"],
    });
  }
  return count;
}

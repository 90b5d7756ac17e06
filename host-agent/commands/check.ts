// `nixseal-agent check MANIFEST|DIR`: the same check stage makes before it decrypts (for a
// dir: exactly its files, every sha256, every path against this host's directories); no
// keys needed.
import { statSync } from "node:fs";
import { NixsealError } from "../../core/errors.js";
import { managedPaths } from "../config/defaults.js";
import { BUNDLE_MANIFEST } from "../../core/on-host.js";
import { checkManifestFile, readBundleUpload } from "../generations/bundle-dir.js";
import type { AgentIo } from "./io.js";
import { invocationConfig, type Invocation } from "./invocation.js";

export async function check(inv: Invocation, io: AgentIo): Promise<number> {
  const path = inv.operands[0]!;
  const managed = managedPaths(await invocationConfig(inv));
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `${path}: no such file or directory`, { cause: err });
  }
  if (isDir) {
    const b = await readBundleUpload(path, managed);
    io.stdout.write(`ok: bundle for host ${b.manifest.host}, ${b.manifest.secrets.length} secrets, every file matches its sha256\n`);
  } else {
    const m = await checkManifestFile(path, managed);
    io.stdout.write(`ok: ${BUNDLE_MANIFEST} for host ${m.host}, ${m.secrets.length} secrets\n`);
  }
  return 0;
}

// `nixseal-agent check MANIFEST|DIR`: schema (and, for a dir, every file's sha256); no keys needed.
import { statSync } from "node:fs";
import { NixsealError } from "../../core/errors.js";
import { readBundleDir, requireWhole } from "../generations/bundle-dir.js";
import type { AgentIo } from "./io.js";
import type { Invocation } from "./invocation.js";

export async function check(inv: Invocation, io: AgentIo): Promise<number> {
  const path = inv.operands[0]!;
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `${path}: no such file or directory`, { cause: err });
  }
  if (isDir) {
    const b = await readBundleDir(path);
    requireWhole(b);
    io.stdout.write(`ok: bundle for host ${b.manifest.host}, ${b.manifest.secrets.length} secrets, every file matches its sha256\n`);
  } else {
    const { BUNDLE_MANIFEST, bundleManifestSchema, readJsonFile } = await import("../../core/index.js");
    const m = await readJsonFile(bundleManifestSchema, path);
    io.stdout.write(`ok: ${BUNDLE_MANIFEST} for host ${m.host}, ${m.secrets.length} secrets\n`);
  }
  return 0;
}

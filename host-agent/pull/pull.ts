// `nixseal-agent pull --server URL [--host NAME] [--token-file FILE]`: fetch this host's
// latest bundle from a nixseal server, verify it (reply shape, manifest schema, host,
// id, exactly the files the manifest names, sha256 of every file), then hand it to the
// same import path as `nixseal-agent import DIR` (stage: decrypt all in memory, owners;
// then activate). The server is not trusted: with --trust-key the manifest must carry
// a valid Ed25519 signature by one of the operator's keys, so the server can withhold
// bundles but not forge or alter one; a bundle that lowers a secret's version (a replay
// of an older bundle) is refused unless --allow-downgrade. --trust-server skips the
// signature check, explicitly. Nothing is done when the latest bundle is already current.
import { mkdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { NixsealError } from "../../core/errors.js";
import { withTempDir } from "../../core/fs.js";
import { requestJson, serverBaseUrl } from "../../core/http-json.js";
import { readTokenFile } from "../../core/token-file.js";
import type { BundleManifest } from "../../core/schema/bundle.js";
import { readManifest } from "../generations/bundle-dir.js";
import type { AgentConfig } from "../config/defaults.js";
import { errors } from "../errors.js";
import { generationDir, linkedGeneration } from "../generations/store.js";
import type { AgentIo } from "../commands/io.js";
import { invocationConfig, type Invocation } from "../commands/invocation.js";
import { downgrades, readTrustKeys, usage, verifyReply } from "./verify.js";

/** Largest reply pull reads (a server cannot make the agent buffer without bound). */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;
/** How long pull waits for the whole reply. */
const TIMEOUT_MS = 120_000;

/** The manifest of the current generation, if any. */
async function currentManifest(config: AgentConfig): Promise<{ generation: number; manifest: BundleManifest } | undefined> {
  const generation = linkedGeneration(config.stateDir, "current");
  if (generation === undefined) return undefined;
  try {
    return { generation, manifest: await readManifest(generationDir(config.stateDir, generation)) };
  } catch {
    return undefined; // a damaged current generation: pulling a whole one is the fix
  }
}

/** Runs `nixseal-agent pull`; returns the exit code (1 when a secret failed). */
export async function runPull(inv: Invocation, io: AgentIo): Promise<number> {
  const v = inv.values;
  if (!v.server) throw usage("pull needs --server URL");
  if (!v.trustKey === !v.trustServer) throw usage("pull needs either --trust-key FILE (the operator's signing key) or --trust-server");
  const usageErrors = { code: errors.usage.code, exitCode: 2 };
  const server = serverBaseUrl(v.server, usageErrors);
  const config = await invocationConfig(inv);
  const host = v.host ?? hostname().split(".")[0]!.toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(host)) throw usage(`"${host}" is not a host name; pass --host NAME`);
  const token = v.tokenFile ? await readTokenFile(v.tokenFile, usageErrors) : undefined;
  const trusted = v.trustKey ? readTrustKeys(v.trustKey) : "server";

  const reply = await requestJson(server, `v1/hosts/${host}/bundles/latest`, { token, timeoutMs: TIMEOUT_MS, maxBytes: MAX_REPLY_BYTES });
  const { manifest, files } = await verifyReply(server.origin, host, reply, trusted);
  const say = (line: string) => io.stderr.write(`nixseal-agent: ${line}\n`);
  const current = await currentManifest(config);
  if (current?.manifest.id === manifest.id) {
    say(`bundle ${manifest.id.slice(0, 16)} from ${server.origin} is already generation ${current.generation} (current); nothing to do`);
    return 0;
  }
  const lowered = current && !v.allowDowngrade ? downgrades(current.manifest, manifest) : [];
  if (lowered.length) {
    throw new NixsealError("NIXSEAL_ERR_PULL_DOWNGRADE", `the bundle from ${server.origin} has older versions than generation ${current!.generation}: ${lowered.join(", ")}`, {
      hints: ["nothing was changed; if the operator meant it, run nixseal-agent pull --allow-downgrade once (or rotate the secret, which raises its version)"],
    });
  }
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  // The download is ciphertext only; kept beside the generations and removed afterwards.
  const { importBundle } = await import("../generations/operations.js");
  const out = await withTempDir(async (dir) => {
    await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
    for (const [name, bytes] of files) await writeFile(join(dir, name), bytes, { mode: 0o600 });
    return importBundle(config, dir);
  }, config.stateDir);
  const failed = out.activation.results.filter((r) => !r.ok);
  say(`pulled bundle ${manifest.id.slice(0, 16)} from ${server.origin}: generation ${out.activation.generation}, ${out.activation.results.length - failed.length} of ${out.activation.results.length} secrets in ${join(config.runDir, out.activation.runGeneration)}`);
  for (const r of failed) say(`error: ${r.error ?? r.name}`);
  return failed.length ? 1 : 0;
}

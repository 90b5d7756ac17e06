// `nixseal-agent pull --server URL [--host NAME] [--follow]`: fetch this host's latest
// bundle from a nixseal server, signing the request with the host's own SSH host key
// (the server knows it from the fleet state the operator pushed: no token on the host),
// verify it (the operator's signature with --trust-key, reply shape, manifest schema,
// host, id, exactly the files the manifest names, sha256 of every file), refuse a
// sequence not above the highest this host has run (a replay) and lower versions
// without the operator's signed rollback, then hand it to the same import path as
// `nixseal-agent import DIR` (stage: decrypt all in memory, owners; then activate).
// --follow keeps a long-poll open and installs each newer bundle within seconds of its
// push, until SIGTERM. Nothing is done when the latest bundle is already current.
import { mkdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { withTempDir } from "../../core/fs.js";
import { serverBaseUrl } from "../../core/http-json.js";
import { BUNDLE_MANIFEST } from "../../core/on-host.js";
import type { BundleManifest } from "../../core/schema/bundle.js";
import type { AgentIo } from "../commands/io.js";
import { invocationConfig, type Invocation } from "../commands/invocation.js";
import type { AgentConfig } from "../config/defaults.js";
import { errors } from "../errors.js";
import { readStoredManifest } from "../generations/bundle-dir.js";
import { generationDir, linkedGeneration } from "../generations/store.js";
import { fetchLatest, follow, hostSigner, type PullTarget, type VerifiedBundle } from "./client.js";
import { raisePulledMark, readPulledMark } from "./sequence.js";
import { readTrustKeys, refuseRollback, usage } from "./verify.js";

export { MAX_REPLY_BYTES } from "./client.js";

/** The manifest of the current generation, if any. */
async function currentManifest(config: AgentConfig): Promise<{ generation: number; manifest: BundleManifest } | undefined> {
  const generation = linkedGeneration(config.stateDir, "current");
  if (generation === undefined) return undefined;
  try {
    return { generation, manifest: await readStoredManifest(generationDir(config.stateDir, generation)) };
  } catch {
    return undefined; // a damaged current generation: pulling a whole one is the fix
  }
}

/** The highest sequence this host has run: its mark, or the current generation's. */
async function ranSequence(config: AgentConfig): Promise<number> {
  const current = await currentManifest(config);
  return Math.max(readPulledMark(config.stateDir)?.sequence ?? 0, current?.manifest.sequence ?? 0);
}

/** Installs one verified bundle unless it is current; returns the exit code. */
async function install(config: AgentConfig, origin: string, b: VerifiedBundle, say: (line: string) => void): Promise<number> {
  const { manifest, files } = b;
  const current = await currentManifest(config);
  if (current?.manifest.id === manifest.id) {
    if (manifest.sequence !== undefined) await raisePulledMark(config.stateDir, { sequence: manifest.sequence, id: manifest.id });
    say(`bundle ${manifest.id.slice(0, 16)} from ${origin} is already generation ${current.generation} (current); nothing to do`);
    return 0;
  }
  refuseRollback(origin, manifest, await ranSequence(config), current);
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  // The download is ciphertext only; kept beside the generations and removed afterwards.
  const { importBundle } = await import("../generations/operations.js");
  const out = await withTempDir(async (dir) => {
    await writeFile(join(dir, BUNDLE_MANIFEST), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
    for (const [name, bytes] of files) await writeFile(join(dir, name), bytes, { mode: 0o600 });
    return importBundle(config, dir);
  }, config.stateDir);
  await raisePulledMark(config.stateDir, { sequence: manifest.sequence!, id: manifest.id });
  const failed = out.activation.results.filter((r) => !r.ok);
  say(`pulled bundle ${manifest.id.slice(0, 16)} (sequence ${manifest.sequence}) from ${origin}: generation ${out.activation.generation}, ${out.activation.results.length - failed.length} of ${out.activation.results.length} secrets in ${join(config.runDir, out.activation.runGeneration)}`);
  for (const r of failed) say(`error: ${r.error ?? r.name}`);
  return failed.length ? 1 : 0;
}

/** Runs `nixseal-agent pull`; returns the exit code (1 when a secret failed). `stop` ends --follow (as SIGTERM does). */
export async function runPull(inv: Invocation, io: AgentIo, stop?: AbortSignal): Promise<number> {
  const v = inv.values;
  if (!v.server) throw usage("pull needs --server URL");
  if (!v.trustKey === !v.trustServer) throw usage("pull needs either --trust-key FILE (the operator's signing key) or --trust-server");
  if (v.wait !== undefined && (!v.follow || !/^\d{1,3}$/.test(v.wait) || Number(v.wait) < 1 || Number(v.wait) > 300)) throw usage("--wait goes with --follow and wants 1 to 300 seconds");
  const server = serverBaseUrl(v.server, { code: errors.usage.code, exitCode: 2 });
  const config = await invocationConfig(inv);
  const host = v.host ?? hostname().split(".")[0]!.toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(host)) throw usage(`"${host}" is not a host name; pass --host NAME`);
  const target: PullTarget = {
    server,
    host,
    signer: await hostSigner(host, config.identityPaths),
    trusted: v.trustKey ? readTrustKeys(v.trustKey) : "server",
  };
  const say = (line: string) => io.stderr.write(`nixseal-agent: ${line}\n`);
  if (!v.follow) return install(config, server.origin, await fetchLatest(target), say);

  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  stop?.addEventListener("abort", onSignal, { once: true });
  let after = await ranSequence(config);
  say(`following ${server.origin} for host ${host} (running sequence ${after})`);
  try {
    await follow(target, {
      after: () => after,
      install: async (b) => {
        await install(config, server.origin, b, say);
        after = await ranSequence(config);
      },
      onError: (err, retryInMs) => say(`error: ${err instanceof Error ? err.message : String(err)} (retrying in ${(retryInMs / 1000).toFixed(1)} s)`),
      signal: ac.signal,
      ...(v.wait ? { waitSeconds: Number(v.wait) } : {}),
    });
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
  say("stopped following");
  return 0;
}

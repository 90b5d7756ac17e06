// `nixseal push [HOST…] --server URL`: the fleet state (host keys, admin keys) and each
// host's bundle (manifest + .age files, as `nixseal bundle` writes it: ciphertext only)
// uploaded to a nixseal server, where the host's agent pulls it (`nixseal-agent pull`).
// The bundles travel in batches (cli/server/upload-bundles.ts): a rotation of the
// whole fleet is a few requests, and the server answers for each host.
// Each bundle carries the host's next sequence, so an agent refuses any older bundle;
// with --sign-key the manifest is signed (SSHSIG, the operator's SSH key), so agents
// that pin that key accept nothing the server made up. --rollback marks the bundle as a
// deliberate return to older versions. See docs/server.md.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { bundleSigner, type BundleSigner } from "../../core/bundle-signing.js";
import { NixsealError, withTempDir, type BundleManifest } from "../../core/index.js";
import { buildHostBundle } from "../bundle/index.js";
import { selectHosts } from "../deploy/hosts.js";
import { printError, printInfo, printJson } from "../output.js";
import { openRepo, type LoadedRepo } from "../repo/index.js";
import { openServer, serverOptions, type ServerClient } from "../server/client.js";
import { BundleUploader, type UploadBody, type UploadResult } from "../server/upload-bundles.js";
import { fleetStateOf } from "../server/fleet-state.js";
import { intOption } from "./deploy.js";
import type { CommandContext } from "./context.js";

interface PushOptions {
  rollback: boolean;
  signer?: BundleSigner;
}

/** Each host's head sequence on the server (0 when it has none). */
async function headSequences(client: ServerClient): Promise<Map<string, number>> {
  const reply = (await client.call("GET", "v1/heads")) as { heads?: Record<string, { sequence?: unknown }> } | null;
  return new Map(Object.entries(reply?.heads ?? {}).map(([host, h]) => [host, typeof h?.sequence === "number" ? h.sequence : 0]));
}

/** One host's bundle with the sequence after `head`, ready to upload (files as base64, the manifest signed as sent). */
async function hostBody(loaded: LoadedRepo, host: string, head: number, o: PushOptions): Promise<UploadBody & { manifest: BundleManifest }> {
  return withTempDir(async (tmp) => {
    const dir = join(tmp, "bundle");
    const built = await buildHostBundle(loaded, host, dir);
    const manifest: BundleManifest = { ...built.manifest, sequence: head + 1, ...(o.rollback ? { rollback: true as const } : {}) };
    const files: Record<string, string> = {};
    for (const s of manifest.secrets) files[s.file] = (await readFile(join(dir, s.file))).toString("base64");
    return { manifest, files, ...(o.signer ? { signature: o.signer(manifest) } : {}) };
  });
}

/** Runs fn over items, at most `jobs` at once, in order of start. */
async function eachLimited<T>(items: T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * Builds each host's bundle (jobs at once) and uploads them in batches; a host whose
 * bundle cannot be built fails alone.
 *
 * @returns each host's outcome, and the secrets count of each bundle built
 */
async function uploadAll(client: ServerClient, loaded: LoadedRepo, hosts: string[], heads: Map<string, number>, o: PushOptions, jobs: number): Promise<{ results: Map<string, UploadResult>; secrets: Map<string, number> }> {
  const uploader = new BundleUploader((method, path, body) => client.call(method, path, body), client.server.origin);
  const secrets = new Map<string, number>();
  const failed = new Map<string, UploadResult>();
  await eachLimited(hosts, jobs, async (host) => {
    let body;
    try {
      body = await hostBody(loaded, host, heads.get(host) ?? 0, o);
    } catch (err) {
      if (!(err instanceof NixsealError)) throw err;
      failed.set(host, { host, ok: false, code: err.code, message: err.message, hints: err.hints });
      return;
    }
    secrets.set(host, body.manifest.secrets.length);
    await uploader.add(body);
  });
  const results = await uploader.finish();
  for (const [h, r] of failed) results.set(h, r);
  return { results, secrets };
}

/** `nixseal push [HOST…] --server URL (--sign-key KEY | --token-file FILE)`. */
export function registerPush(program: Command, ctx: CommandContext): void {
  serverOptions(
    program
      .command("push")
      .description("upload the fleet state and each host's bundle (ciphertext only) to a nixseal server, for nixseal-agent pull")
      .argument("[hosts...]", "hosts to push (default: all)"),
    " and the bundles (hosts pull with --trust-key KEY.pub)",
  )
    .option("--rollback", "sign the bundles as a deliberate rollback: agents accept lower secret versions than they run")
    .option("-j, --parallel <n>", "bundles built at once (they are uploaded together, in batches)", intOption("--parallel", 1), 8)
    .option("--json", "print a JSON summary on stdout")
    .addHelpText("after", "\nOn each host: nixseal-agent pull --server URL --trust-key KEY.pub [--follow]. Exit 1 if any host failed. See docs/server.md.")
    .action(async (hosts: string[], o: { server: string; tokenFile?: string; signKey?: string; rollback?: boolean; parallel: number; json?: boolean }) => {
      const client = await openServer(ctx.io, o);
      const loaded = await openRepo(ctx.io.cwd);
      const selected = selectHosts(loaded.repo, hosts);
      const fleet = fleetStateOf(loaded.repo);
      await client.call("PUT", "v1/fleet", fleet);
      if (!o.json) printInfo(ctx.io, `pushed the fleet state: ${Object.keys(fleet.hosts).length} hosts, ${fleet.admins.length} admin keys`);
      const opts: PushOptions = { rollback: Boolean(o.rollback), ...(client.key ? { signer: bundleSigner(client.key) } : {}) };
      let { results, secrets } = await uploadAll(client, loaded, selected, await headSequences(client), opts, o.parallel);
      // Another push came first for some hosts: read the heads again and take the next numbers once more.
      const raced = selected.filter((h) => results.get(h)?.ok === false && (results.get(h) as { code: string }).code === "NIXSEAL_ERR_SERVER_SEQUENCE");
      if (raced.length) {
        const again = await uploadAll(client, loaded, raced, await headSequences(client), opts, o.parallel);
        for (const h of raced) results.set(h, again.results.get(h)!);
        secrets = new Map([...secrets, ...again.secrets]);
      }
      const summary: Array<Record<string, unknown>> = [];
      let failed = 0;
      for (const host of selected) {
        const r = results.get(host)!;
        if (r.ok) {
          summary.push({ host, id: r.id, sequence: r.sequence, created: r.created, secrets: secrets.get(host), ok: true });
          if (!o.json) printInfo(ctx.io, `pushed ${host}: bundle ${r.id.slice(0, 16)}, sequence ${r.sequence} (${secrets.get(host)} secrets)${opts.signer ? "" : ", unsigned"}${o.rollback ? ", rollback" : ""}`);
        } else {
          failed++;
          summary.push({ host, ok: false, code: r.code, error: r.message });
          printError(ctx.io, new NixsealError(r.code, r.message, { hints: r.hints }));
        }
      }
      if (o.json) printJson(ctx.io, { command: "push", ok: failed === 0, hosts: summary });
      ctx.exitCode = failed ? 1 : 0;
    });
}

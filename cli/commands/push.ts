// `nixseal push [HOST…] --server URL`: the fleet state (host keys, admin keys) and each
// host's bundle (manifest + .age files, as `nixseal bundle` writes it: ciphertext only)
// uploaded to a nixseal server, where the host's agent pulls it (`nixseal-agent pull`).
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
import { fleetStateOf } from "../server/fleet-state.js";
import { intOption } from "./deploy.js";
import type { CommandContext } from "./context.js";

interface PushOptions {
  rollback: boolean;
  signer?: BundleSigner;
}

/** Each host's head sequence on the server (0 when it has none). */
async function headSequences(client: ServerClient): Promise<Map<string, number>> {
  const report = (await client.call("GET", "v1/fleet")) as { hosts?: Array<{ name: string; head?: { sequence: number } }> } | null;
  return new Map((report?.hosts ?? []).map((h) => [h.name, h.head?.sequence ?? 0]));
}

/** Uploads one host's bundle with the sequence after `head`; returns the server's answer. */
async function pushHost(client: ServerClient, loaded: LoadedRepo, host: string, head: number, o: PushOptions) {
  return withTempDir(async (tmp) => {
    const dir = join(tmp, "bundle");
    const built = await buildHostBundle(loaded, host, dir);
    const manifest: BundleManifest = { ...built.manifest, sequence: head + 1, ...(o.rollback ? { rollback: true as const } : {}) };
    const files: Record<string, string> = {};
    for (const s of manifest.secrets) files[s.file] = (await readFile(join(dir, s.file))).toString("base64");
    const body = (await client.call("PUT", `v1/hosts/${host}/bundles`, { manifest, files, ...(o.signer ? { signature: o.signer(manifest) } : {}) })) as { id?: unknown; created?: unknown } | null;
    if (typeof body?.id !== "string" || body.id !== manifest.id) {
      throw new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${client.server.origin} did not confirm bundle ${manifest.id.slice(0, 16)}`, { hints: ["check that --server points at nixseal-server"] });
    }
    return { host, id: manifest.id, sequence: manifest.sequence!, created: body.created === true, secrets: manifest.secrets.length };
  });
}

/** Runs fn over items, at most `jobs` at once, in order of start. */
async function eachLimited<T>(items: T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
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
    .option("-j, --parallel <n>", "hosts uploaded at once", intOption("--parallel", 1), 8)
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
      let heads = await headSequences(client);
      const results: Array<Record<string, unknown>> = [];
      let failed = 0;
      await eachLimited(selected, o.parallel, async (host) => {
        try {
          let r;
          try {
            r = await pushHost(client, loaded, host, heads.get(host) ?? 0, opts);
          } catch (err) {
            // Another push came first: read the heads again and take the next number once more.
            if (!(err instanceof NixsealError && err.code === "NIXSEAL_ERR_SERVER_SEQUENCE")) throw err;
            heads = await headSequences(client);
            r = await pushHost(client, loaded, host, heads.get(host) ?? 0, opts);
          }
          results.push({ ...r, ok: true });
          if (!o.json) printInfo(ctx.io, `pushed ${host}: bundle ${r.id.slice(0, 16)}, sequence ${r.sequence} (${r.secrets} secrets)${opts.signer ? "" : ", unsigned"}${o.rollback ? ", rollback" : ""}`);
        } catch (err) {
          failed++;
          results.push({ host, ok: false, ...(err instanceof NixsealError ? { code: err.code, error: err.message } : {}) });
          printError(ctx.io, err);
        }
      });
      if (o.json) printJson(ctx.io, { command: "push", ok: failed === 0, hosts: results });
      ctx.exitCode = failed ? 1 : 0;
    });
}

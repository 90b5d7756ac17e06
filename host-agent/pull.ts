// `nixseal-agent pull --server URL [--host NAME] [--token-file FILE]`: fetch this host's
// latest bundle from a nixseal server, verify it (reply shape, manifest schema, host,
// id, exactly the files the manifest names, sha256 of every file), then hand it to the
// same import path as `nixseal-agent import DIR` (stage: decrypt all in memory, owners;
// then activate). The server is not trusted: it can withhold or replay an older
// bundle, but cannot make this host accept ciphertext the manifest does not name.
// Nothing is done when the latest bundle is already the current generation.
import { createHash } from "node:crypto";
import { mkdirSync, statSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { NixsealError } from "../core/errors.js";
import { withTempDir } from "../core/fs.js";
import type { BundleManifest } from "../core/schema/bundle.js";
import { readManifest } from "./bundle-dir.js";
import { loadConfig, type AgentConfig } from "./config.js";
import { generationDir, linkedGeneration } from "./generations.js";
import type { AgentIo } from "./main.js";

const USAGE = `usage: nixseal-agent pull --server URL [--host NAME] [--token-file FILE]
                          [--config FILE] [--state-dir DIR] [--run-dir DIR]
                          [--keys-dir DIR] [--identity KEYFILE]...

Fetches this host's latest bundle from a nixseal server, verifies every file's
sha256, stores it as a new generation and activates it (as import does).
--host defaults to the short host name; --token-file holds the host's read token
when the server requires one. See docs/server.md.
`;

function usage(message: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_AGENT_USAGE", message, { hints: ["run nixseal-agent pull --help"], exitCode: 2 });
}

function invalid(server: string, why: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_PULL_VERIFY", `the bundle from ${server} fails verification: ${why}`, {
    hints: ["nothing was changed on this host; push the bundle again (nixseal push HOST) and check the server"],
  });
}

interface Reply {
  id: string;
  host: string;
  manifest: unknown;
  files: Record<string, string>;
}

/** GET path from server; the server's own errors keep their code. */
async function getJson(server: URL, path: string, token: string | undefined): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, server), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (err) {
    const why = (err as { cause?: { code?: string } }).cause?.code ?? "error";
    throw new NixsealError("NIXSEAL_ERR_SERVER_UNREACHABLE", `cannot reach ${server.origin}: ${why}`, { cause: err, hints: ["check --server and that nixseal-server runs there"] });
  }
  let body: unknown;
  try {
    body = JSON.parse(await res.text());
  } catch {
    body = undefined;
  }
  const e = body as { code?: unknown; message?: unknown; hints?: unknown } | undefined;
  if (!res.ok && typeof e?.code === "string" && typeof e.message === "string") {
    throw new NixsealError(e.code, `${server.origin}: ${e.message}`, { hints: Array.isArray(e.hints) ? e.hints.map(String) : [] });
  }
  if (!res.ok || body === undefined) throw new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${server.origin} answered HTTP ${res.status} without a nixseal reply`, { hints: ["check that --server points at nixseal-server"] });
  return body;
}

/**
 * Verifies a bundle reply for host without trusting the server.
 *
 * @returns the manifest and each file's bytes
 * @throws NixsealError NIXSEAL_ERR_PULL_VERIFY
 */
export async function verifyReply(origin: string, host: string, reply: unknown): Promise<{ manifest: BundleManifest; files: Map<string, Buffer> }> {
  const r = reply as Partial<Reply> | null;
  if (typeof r !== "object" || r === null || typeof r.files !== "object" || r.files === null || typeof r.id !== "string") throw invalid(origin, "the reply is not a bundle");
  const [{ bundleManifestSchema }, { validate }] = await Promise.all([import("../core/schema/bundle.js"), import("../core/schema/parse.js")]);
  let manifest: BundleManifest;
  try {
    manifest = validate(bundleManifestSchema, r.manifest, "manifest.json");
  } catch (err) {
    throw invalid(origin, err instanceof Error ? err.message : "manifest.json");
  }
  if (manifest.host !== host) throw invalid(origin, `it is for host ${manifest.host}, not ${host}`);
  if (manifest.id !== r.id) throw invalid(origin, "its id differs from its manifest's");
  const files = new Map<string, Buffer>();
  for (const s of manifest.secrets) {
    if (files.has(s.file)) throw invalid(origin, `${s.file} is named twice`);
    const text = Object.hasOwn(r.files, s.file) ? r.files[s.file] : undefined;
    const bytes = typeof text === "string" ? Buffer.from(text, "base64") : undefined;
    if (!bytes || bytes.toString("base64") !== text) throw invalid(origin, `${s.file} is missing or not base64`);
    if (createHash("sha256").update(bytes).digest("hex") !== s.sha256) throw invalid(origin, `${s.file} does not match its sha256 in manifest.json`);
    files.set(s.file, bytes);
  }
  for (const name of Object.keys(r.files)) if (!files.has(name)) throw invalid(origin, `${name} is not named in manifest.json`);
  return { manifest, files };
}

/** The id of the bundle the current generation was made from, if any. */
async function currentBundleId(config: AgentConfig): Promise<{ generation: number; id: string } | undefined> {
  const generation = linkedGeneration(config.stateDir, "current");
  if (generation === undefined) return undefined;
  try {
    return { generation, id: (await readManifest(generationDir(config.stateDir, generation))).id };
  } catch {
    return undefined; // a damaged current generation: pulling a whole one is the fix
  }
}

function readToken(file: string): string {
  let text: string;
  try {
    if ((statSync(file).mode & 0o077) !== 0) throw usage(`${file} is readable by others; refusing to use it as a token file (chmod 600 ${file})`);
    text = readFileSync(file, "utf8").trim();
  } catch (err) {
    if (err instanceof NixsealError) throw err;
    throw usage(`cannot read the token file ${file}`);
  }
  if (!/^[\x21-\x7e]+$/.test(text)) throw usage(`${file} must hold one token on one line`);
  return text;
}

/** Runs `nixseal-agent pull ARGS`; returns the exit code (1 when a secret failed). */
export async function runPull(argv: string[], io: AgentIo): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        server: { type: "string" },
        host: { type: "string" },
        "token-file": { type: "string" },
        config: { type: "string" },
        "state-dir": { type: "string" },
        "run-dir": { type: "string" },
        "keys-dir": { type: "string" },
        identity: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    throw usage((err as Error).message.split("\n")[0]!.replace(/^./, (c) => c.toLowerCase()));
  }
  if (v.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (!v.server) throw usage("pull needs --server URL");
  let server: URL;
  try {
    server = new URL(v.server);
  } catch {
    throw usage(`--server "${v.server}" is not a URL`);
  }
  if (server.protocol !== "http:" && server.protocol !== "https:") throw usage("--server must be an http:// or https:// URL");
  if (!server.pathname.endsWith("/")) server.pathname += "/";
  for (const [flag, dir] of [["--state-dir", v["state-dir"]], ["--run-dir", v["run-dir"]], ["--keys-dir", v["keys-dir"]], ...(v.identity ?? []).map((p) => ["--identity", p])]) {
    if (dir !== undefined && (!dir.startsWith("/") || dir.split("/").includes(".."))) throw usage(`${flag} needs an absolute path without ".."`);
  }
  const overrides: Partial<AgentConfig> = {
    ...(v["state-dir"] ? { stateDir: v["state-dir"] } : {}),
    ...(v["run-dir"] ? { runDir: v["run-dir"] } : {}),
    ...(v["keys-dir"] ? { keysDir: v["keys-dir"] } : {}),
    ...(v.identity ? { identityPaths: v.identity } : {}),
  };
  const config = await loadConfig(v.config, overrides);
  const host = v.host ?? hostname().split(".")[0]!.toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(host)) throw usage(`"${host}" is not a host name; pass --host NAME`);
  const token = v["token-file"] ? readToken(v["token-file"]) : undefined;

  const reply = await getJson(server, `v1/hosts/${host}/bundles/latest`, token);
  const { manifest, files } = await verifyReply(server.origin, host, reply);
  const say = (line: string) => io.stderr.write(`nixseal-agent: ${line}\n`);
  const current = await currentBundleId(config);
  if (current?.id === manifest.id) {
    say(`bundle ${manifest.id.slice(0, 16)} from ${server.origin} is already generation ${current.generation} (current); nothing to do`);
    return 0;
  }
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  // The download is ciphertext only; kept beside the generations and removed afterwards.
  const { importBundle } = await import("./operations.js");
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

// `nixseal-agent pull --server URL [--host NAME] [--token-file FILE]`: fetch this host's
// latest bundle from a nixseal server, verify it (reply shape, manifest schema, host,
// id, exactly the files the manifest names, sha256 of every file), then hand it to the
// same import path as `nixseal-agent import DIR` (stage: decrypt all in memory, owners;
// then activate). The server is not trusted: with --trust-key the manifest must carry
// a valid Ed25519 signature by one of the operator's keys, so the server can withhold
// bundles but not forge or alter one; a bundle that lowers a secret's version (a replay
// of an older bundle) is refused unless --allow-downgrade. --trust-server skips the
// signature check, explicitly. Nothing is done when the latest bundle is already current.
import { createHash, createPublicKey, verify } from "node:crypto";
import { mkdirSync, statSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { NixsealError } from "../core/errors.js";
import { withTempDir } from "../core/fs.js";
import { parseSshPublicKey, type SshPublicKey } from "../core/keys/ssh-public.js";
import type { BundleManifest } from "../core/schema/bundle.js";
import { readManifest } from "./bundle-dir.js";
import { loadConfig, type AgentConfig } from "./config.js";
import { generationDir, linkedGeneration } from "./generations.js";
import type { AgentIo } from "./main.js";

const USAGE = `usage: nixseal-agent pull --server URL (--trust-key FILE... | --trust-server)
                          [--host NAME] [--token-file FILE] [--allow-downgrade]
                          [--config FILE] [--state-dir DIR] [--run-dir DIR]
                          [--keys-dir DIR] [--identity KEYFILE]...

Fetches this host's latest bundle from a nixseal server, checks the operator's
signature (--trust-key: ssh-ed25519 public keys, as given to nixseal push
--sign-key) and every file's sha256, stores it as a new generation and activates
it (as import does). --trust-server accepts unsigned bundles: the server (and
anyone between) could then choose what this host installs.
--host defaults to the short host name; --token-file holds the host's read token
when the server requires one. See docs/server.md.
`;

/** = cli/commands/push.ts SIGNATURE_CONTEXT: the signature covers this line, then JSON.stringify(manifest). */
const SIGNATURE_CONTEXT = "nixseal-bundle-signature/v1\n";

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
  signature?: { key?: unknown; sig?: unknown };
}

/** Reads the trusted signing keys: ssh-ed25519 public key lines (comments and blanks skipped). */
function readTrustKeys(files: string[]): SshPublicKey[] {
  const keys: SshPublicKey[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      throw usage(`cannot read the trusted key file ${file}`);
    }
    text.split("\n").forEach((line, i) => {
      if (line.trim() === "" || line.trim().startsWith("#")) return;
      const key = parseSshPublicKey(line.trim(), `${file}:${i + 1}`);
      if (key.type !== "ssh-ed25519") throw usage(`${file}:${i + 1}: bundles are signed with ssh-ed25519 keys, not ${key.type}`);
      keys.push(key);
    });
  }
  if (keys.length === 0) throw usage(`no ssh-ed25519 key in ${files.join(", ")}`);
  return keys;
}

/** Checks the reply's signature over its manifest against the trusted keys. */
function checkSignature(origin: string, reply: Reply, trusted: SshPublicKey[]): void {
  const sig = reply.signature;
  if (typeof sig?.key !== "string" || typeof sig.sig !== "string") throw invalid(origin, "it is not signed (push with nixseal push --sign-key)");
  let signer: SshPublicKey;
  try {
    signer = parseSshPublicKey(sig.key);
  } catch {
    throw invalid(origin, "its signing key is not an ssh public key");
  }
  if (signer.type !== "ssh-ed25519" || !trusted.some((t) => Buffer.from(t.wire).equals(Buffer.from(signer.wire)))) {
    throw invalid(origin, "it is signed by a key not given with --trust-key");
  }
  const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(signer.key).toString("base64url") }, format: "jwk" });
  if (!verify(null, Buffer.from(SIGNATURE_CONTEXT + JSON.stringify(reply.manifest)), publicKey, Buffer.from(sig.sig, "base64"))) {
    throw invalid(origin, "its signature does not match its manifest");
  }
}

/** Largest reply pull reads (a server cannot make the agent buffer without bound). */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;
/** How long pull waits for the whole reply. */
const TIMEOUT_MS = 120_000;

/** A server's text, one line, without control characters (it is printed on a terminal or journal). */
function printable(text: unknown): string {
  return String(text).replace(/[\x00-\x1f\x7f]/g, " ").slice(0, 500);
}

/** Reads a body up to MAX_REPLY_BYTES. */
async function readCapped(res: Response, origin: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  for (let r = await reader?.read(); r && !r.done; r = await reader!.read()) {
    size += r.value.length;
    if (size > MAX_REPLY_BYTES) {
      await reader!.cancel();
      throw new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${origin} sent more than ${MAX_REPLY_BYTES} bytes`, { hints: ["check that --server points at nixseal-server"] });
    }
    chunks.push(Buffer.from(r.value));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** GET path from server; the server's own errors keep their code. */
async function getJson(server: URL, path: string, token: string | undefined): Promise<unknown> {
  let body: unknown;
  let res: Response;
  try {
    res = await fetch(new URL(path, server), { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(TIMEOUT_MS) });
    try {
      body = JSON.parse(await readCapped(res, server.origin));
    } catch (err) {
      if (err instanceof NixsealError) throw err;
      if ((err as Error).name === "TimeoutError") throw err;
      body = undefined;
    }
  } catch (err) {
    if (err instanceof NixsealError) throw err;
    const why = (err as Error).name === "TimeoutError" ? `no complete reply within ${TIMEOUT_MS / 1000} s` : ((err as { cause?: { code?: string } }).cause?.code ?? "error");
    throw new NixsealError("NIXSEAL_ERR_SERVER_UNREACHABLE", `cannot reach ${server.origin}: ${why}`, { cause: err, hints: ["check --server and that nixseal-server runs there"] });
  }
  const e = body as { code?: unknown; message?: unknown; hints?: unknown } | undefined;
  if (!res.ok && typeof e?.code === "string" && /^NIXSEAL_ERR_[A-Z_]{1,60}$/.test(e.code) && typeof e.message === "string") {
    throw new NixsealError(e.code, `${server.origin}: ${printable(e.message)}`, { hints: Array.isArray(e.hints) ? e.hints.slice(0, 5).map(printable) : [] });
  }
  if (!res.ok || body === undefined) throw new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${server.origin} answered HTTP ${res.status} without a nixseal reply`, { hints: ["check that --server points at nixseal-server"] });
  return body;
}

/**
 * Verifies a bundle reply for host: the operator's signature (unless the server is
 * trusted), the manifest's schema, host and id, exactly its files, every sha256.
 *
 * @returns the manifest and each file's bytes
 * @throws NixsealError NIXSEAL_ERR_PULL_VERIFY
 */
export async function verifyReply(origin: string, host: string, reply: unknown, trusted: SshPublicKey[] | "server"): Promise<{ manifest: BundleManifest; files: Map<string, Buffer> }> {
  const r = reply as Partial<Reply> | null;
  if (typeof r !== "object" || r === null || typeof r.files !== "object" || r.files === null || typeof r.id !== "string") throw invalid(origin, "the reply is not a bundle");
  if (trusted !== "server") checkSignature(origin, r as Reply, trusted);
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

/** Secrets whose version the new manifest lowers: a replayed older bundle. */
function downgrades(current: BundleManifest, next: BundleManifest): string[] {
  const now = new Map(current.secrets.map((s) => [s.name, s.version]));
  return next.secrets.filter((s) => s.version < (now.get(s.name) ?? 0)).map((s) => `${s.name} (${now.get(s.name)} -> ${s.version})`);
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
        "trust-key": { type: "string", multiple: true },
        "trust-server": { type: "boolean" },
        "allow-downgrade": { type: "boolean" },
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
  if (!v["trust-key"] === !v["trust-server"]) throw usage("pull needs either --trust-key FILE (the operator's signing key) or --trust-server");
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
  const trusted = v["trust-key"] ? readTrustKeys(v["trust-key"]) : "server";

  const reply = await getJson(server, `v1/hosts/${host}/bundles/latest`, token);
  const { manifest, files } = await verifyReply(server.origin, host, reply, trusted);
  const say = (line: string) => io.stderr.write(`nixseal-agent: ${line}\n`);
  const current = await currentManifest(config);
  if (current?.manifest.id === manifest.id) {
    say(`bundle ${manifest.id.slice(0, 16)} from ${server.origin} is already generation ${current.generation} (current); nothing to do`);
    return 0;
  }
  const lowered = current && !v["allow-downgrade"] ? downgrades(current.manifest, manifest) : [];
  if (lowered.length) {
    throw new NixsealError("NIXSEAL_ERR_PULL_DOWNGRADE", `the bundle from ${server.origin} has older versions than generation ${current!.generation}: ${lowered.join(", ")}`, {
      hints: ["nothing was changed; if the operator meant it, run nixseal-agent pull --allow-downgrade once (or rotate the secret, which raises its version)"],
    });
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

// `nixseal push [HOST…] --server URL`: each host's bundle (manifest + .age files, as
// `nixseal bundle` writes it: ciphertext only) uploaded to a nixseal server, where the
// host's agent pulls it (`nixseal-agent pull`). The operator token comes from a file,
// never from argv. With --sign-key the manifest is signed (Ed25519, the operator's SSH
// key), so agents that pin that key accept nothing the server made up. See docs/server.md.
import { createPrivateKey, sign } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { NixsealError, parseSshPrivateKey, withTempDir, type BundleManifest } from "../../core/index.js";
import { buildHostBundle } from "../bundle/index.js";
import { selectHosts } from "../deploy/hosts.js";
import type { CliIo } from "../io.js";
import { printError, printInfo, printJson, printWarning } from "../output.js";
import { passphraseSource } from "../identity/passphrase.js";
import { openRepo } from "../repo/index.js";
import type { CommandContext } from "./index.js";

/** The server's base URL, checked: http(s), no credentials, no query. */
export function serverUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NixsealError("NIXSEAL_ERR_SERVER_URL", `--server "${text}" is not a URL`, { hints: ["e.g. --server https://secrets.example.org"], exitCode: 2 });
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password || url.search || url.hash) {
    throw new NixsealError("NIXSEAL_ERR_SERVER_URL", `--server must be an http:// or https:// URL without credentials, query or fragment`, {
      hints: ["pass the token with --token-file, not in the URL"],
      exitCode: 2,
    });
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/** How long one upload may take. */
const TIMEOUT_MS = 300_000;

/** A server's text, one line, without control characters (it is printed on the operator's terminal). */
function printable(text: unknown): string {
  return String(text).replace(/[\x00-\x1f\x7f]/g, " ").slice(0, 500);
}

function isLoopback(url: URL): boolean {
  return /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);
}

async function readToken(file: string): Promise<string> {
  try {
    if (((await stat(file)).mode & 0o077) !== 0) {
      throw new NixsealError("NIXSEAL_ERR_SERVER_TOKEN_FILE", `${file} is readable by others; refusing to use it as a token file`, { hints: [`chmod 600 ${file}`] });
    }
    const token = (await readFile(file, "utf8")).trim();
    if (/^[\x21-\x7e]+$/.test(token)) return token;
  } catch (err) {
    if (err instanceof NixsealError) throw err;
    throw new NixsealError("NIXSEAL_ERR_SERVER_TOKEN_FILE", `cannot read the token file ${file}`, { cause: err, hints: ["pass --token-file FILE with the server's operator token"] });
  }
  throw new NixsealError("NIXSEAL_ERR_SERVER_TOKEN_FILE", `${file} must hold one token on one line`, { hints: ["write the token the server was started with (--token-file) into it"] });
}

/**
 * What a signature covers: this context line, then the manifest exactly as JSON.stringify
 * writes it (the server keeps its key order). nixseal-agent pull checks the same bytes.
 */
export const SIGNATURE_CONTEXT = "nixseal-bundle-signature/v1\n";

type Signer = (manifest: BundleManifest) => { key: string; sig: string };

/** An Ed25519 signer from an OpenSSH ssh-ed25519 private key (passphrase asked when needed). */
async function loadSigner(io: CliIo, file: string): Promise<Signer> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `cannot read the signing key ${file}`, { cause: err, hints: ["pass --sign-key with your ssh-ed25519 private key, e.g. ~/.ssh/id_ed25519"] });
  }
  const key = await parseSshPrivateKey(text, file, passphraseSource(io, file));
  if (key.type !== "ssh-ed25519") {
    throw new NixsealError("NIXSEAL_ERR_SERVER_SIGN_KEY", `${file} is an ${key.type} key; bundles are signed with ssh-ed25519 keys`, { hints: ["make one: ssh-keygen -t ed25519"] });
  }
  const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  const privateKey = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: b64url(key.seed), x: b64url(key.publicKey.key) }, format: "jwk" });
  const line = `ssh-ed25519 ${Buffer.from(key.publicKey.wire).toString("base64")}`;
  return (manifest) => ({ key: line, sig: sign(null, Buffer.from(SIGNATURE_CONTEXT + JSON.stringify(manifest)), privateKey).toString("base64") });
}

/** Uploads one host's bundle; returns the server's answer. */
async function pushHost(server: URL, token: string, host: string, build: (dir: string) => ReturnType<typeof buildHostBundle>, signer?: Signer) {
  return withTempDir(async (tmp) => {
    const dir = join(tmp, "bundle");
    const { manifest } = await build(dir);
    const files: Record<string, string> = {};
    for (const s of manifest.secrets) files[s.file] = (await readFile(join(dir, s.file))).toString("base64");
    const url = new URL(`v1/hosts/${host}/bundles`, server);
    let res: Response;
    try {
      res = await fetch(url, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ manifest, files, ...(signer ? { signature: signer(manifest) } : {}) }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const code = (err as Error).name === "TimeoutError" ? `no reply within ${TIMEOUT_MS / 1000} s` : ((err as { cause?: { code?: string } }).cause?.code ?? "error");
      throw new NixsealError("NIXSEAL_ERR_SERVER_UNREACHABLE", `cannot reach ${server.origin}: ${code}`, { cause: err, hints: ["check --server and that nixseal-server runs there"] });
    }
    const text = await res.text();
    let body: { id?: unknown; created?: unknown; code?: unknown; message?: unknown; hints?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = {};
    }
    if (!res.ok) {
      if (typeof body.code === "string" && /^NIXSEAL_ERR_[A-Z_]{1,60}$/.test(body.code) && typeof body.message === "string") {
        throw new NixsealError(body.code, `${server.origin}: ${printable(body.message)}`, { hints: Array.isArray(body.hints) ? body.hints.slice(0, 5).map(printable) : [] });
      }
      throw new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${server.origin} answered HTTP ${res.status} without a nixseal error`, { hints: ["check that --server points at nixseal-server"] });
    }
    if (typeof body.id !== "string" || body.id !== manifest.id) {
      throw new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${server.origin} did not confirm bundle ${manifest.id.slice(0, 16)}`, { hints: ["check that --server points at nixseal-server"] });
    }
    return { host, id: manifest.id, created: body.created === true, secrets: manifest.secrets.length };
  });
}

/** `nixseal push [HOST…] --server URL --token-file FILE`. */
export function registerPush(program: Command, ctx: CommandContext): void {
  program
    .command("push")
    .description("upload each host's bundle (ciphertext only) to a nixseal server, for nixseal-agent pull")
    .argument("[hosts...]", "hosts to push (default: all)")
    .requiredOption("--server <url>", "the server's base URL, e.g. https://secrets.example.org")
    .option("--token-file <file>", "file holding the server's operator token (default: $NIXSEAL_SERVER_TOKEN_FILE)")
    .option("--sign-key <file>", "sign each manifest with this ssh-ed25519 private key (hosts pull with --trust-key KEY.pub)")
    .option("--json", "print a JSON summary on stdout")
    .addHelpText("after", "\nOn each host: nixseal-agent pull --server URL --trust-key KEY.pub. Exit 1 if any host failed. See docs/server.md.")
    .action(async (hosts: string[], o: { server: string; tokenFile?: string; signKey?: string; json?: boolean }) => {
      const server = serverUrl(o.server);
      const tokenFile = o.tokenFile ?? ctx.io.env.NIXSEAL_SERVER_TOKEN_FILE;
      if (!tokenFile) {
        throw new NixsealError("NIXSEAL_ERR_SERVER_TOKEN_FILE", "pushing needs the server's operator token", { hints: ["pass --token-file FILE or set NIXSEAL_SERVER_TOKEN_FILE"], exitCode: 2 });
      }
      const token = await readToken(resolve(ctx.io.cwd, tokenFile));
      if (server.protocol === "http:" && !isLoopback(server)) printWarning(ctx.io, `${server.origin} is plain http: the token and the ciphertext travel unencrypted`);
      const signer = o.signKey ? await loadSigner(ctx.io, resolve(ctx.io.cwd, o.signKey)) : undefined;
      const loaded = await openRepo(ctx.io.cwd);
      const results = [];
      let failed = 0;
      for (const host of selectHosts(loaded.repo, hosts)) {
        try {
          const r = await pushHost(server, token, host, (dir) => buildHostBundle(loaded, host, dir), signer);
          results.push({ ...r, ok: true });
          if (!o.json) printInfo(ctx.io, `pushed ${host}: bundle ${r.id.slice(0, 16)} (${r.secrets} secrets)${r.created ? "" : ", already on the server"}`);
        } catch (err) {
          failed++;
          results.push({ host, ok: false, ...(err instanceof NixsealError ? { code: err.code, error: err.message } : {}) });
          printError(ctx.io, err);
        }
      }
      if (o.json) printJson(ctx.io, { command: "push", ok: failed === 0, hosts: results });
      ctx.exitCode = failed ? 1 : 0;
    });
}

// `nixseal push [HOST…] --server URL`: each host's bundle (manifest + .age files, as
// `nixseal bundle` writes it: ciphertext only) uploaded to a nixseal server, where the
// host's agent pulls it (`nixseal-agent pull`). The operator token comes from a file,
// never from argv. See docs/server.md.
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { NixsealError, withTempDir } from "../../core/index.js";
import { buildHostBundle } from "../bundle/index.js";
import { selectHosts } from "../deploy/run.js";
import { printError, printInfo, printJson, printWarning } from "../output.js";
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

/** Uploads one host's bundle; returns the server's answer. */
async function pushHost(server: URL, token: string, host: string, build: (dir: string) => ReturnType<typeof buildHostBundle>) {
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
        body: JSON.stringify({ manifest, files }),
      });
    } catch (err) {
      const code = ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message) || "error";
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
      if (typeof body.code === "string" && typeof body.message === "string") {
        throw new NixsealError(body.code, `${server.origin}: ${body.message}`, { hints: Array.isArray(body.hints) ? body.hints.map(String) : [] });
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
    .option("--json", "print a JSON summary on stdout")
    .addHelpText("after", "\nOn each host: nixseal-agent pull --server URL. Exit 1 if any host failed. See docs/server.md.")
    .action(async (hosts: string[], o: { server: string; tokenFile?: string; json?: boolean }) => {
      const server = serverUrl(o.server);
      const tokenFile = o.tokenFile ?? ctx.io.env.NIXSEAL_SERVER_TOKEN_FILE;
      if (!tokenFile) {
        throw new NixsealError("NIXSEAL_ERR_SERVER_TOKEN_FILE", "pushing needs the server's operator token", { hints: ["pass --token-file FILE or set NIXSEAL_SERVER_TOKEN_FILE"], exitCode: 2 });
      }
      const token = await readToken(resolve(ctx.io.cwd, tokenFile));
      if (server.protocol === "http:" && !isLoopback(server)) printWarning(ctx.io, `${server.origin} is plain http: the token and the ciphertext travel unencrypted`);
      const loaded = await openRepo(ctx.io.cwd);
      const results = [];
      let failed = 0;
      for (const host of selectHosts(loaded.repo, hosts)) {
        try {
          const r = await pushHost(server, token, host, (dir) => buildHostBundle(loaded, host, dir));
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

// `nixseal push [HOST…] --server URL`: each host's bundle (manifest + .age files, as
// `nixseal bundle` writes it: ciphertext only) uploaded to a nixseal server, where the
// host's agent pulls it (`nixseal-agent pull`). The operator token comes from a file,
// never from argv. With --sign-key the manifest is signed (Ed25519, the operator's SSH
// key), so agents that pin that key accept nothing the server made up. See docs/server.md.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { bundleSigner, type BundleSigner } from "../../core/bundle-signing.js";
import { requestJson, serverBaseUrl } from "../../core/http-json.js";
import { NixsealError, parseSshPrivateKey, withTempDir } from "../../core/index.js";
import { readTokenFile } from "../../core/token-file.js";
import { buildHostBundle } from "../bundle/index.js";
import { selectHosts } from "../deploy/hosts.js";
import type { CliIo } from "../io.js";
import { printError, printInfo, printJson, printWarning } from "../output.js";
import { passphraseSource } from "../identity/passphrase.js";
import { openRepo } from "../repo/index.js";
import type { CommandContext } from "./context.js";

/** How long one upload may take. */
const TIMEOUT_MS = 300_000;
/** The largest reply push reads: the server answers with a few fields. */
const MAX_REPLY_BYTES = 1024 * 1024;

function isLoopback(url: URL): boolean {
  return /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);
}

/** An Ed25519 signer from an OpenSSH ssh-ed25519 private key (passphrase asked when needed). */
async function loadSigner(io: CliIo, file: string): Promise<BundleSigner> {
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
  return bundleSigner(key);
}

/** Uploads one host's bundle; returns the server's answer. */
async function pushHost(server: URL, token: string, host: string, build: (dir: string) => ReturnType<typeof buildHostBundle>, signer?: BundleSigner) {
  return withTempDir(async (tmp) => {
    const dir = join(tmp, "bundle");
    const { manifest } = await build(dir);
    const files: Record<string, string> = {};
    for (const s of manifest.secrets) files[s.file] = (await readFile(join(dir, s.file))).toString("base64");
    const body = (await requestJson(server, `v1/hosts/${host}/bundles`, {
      method: "PUT",
      token,
      body: { manifest, files, ...(signer ? { signature: signer(manifest) } : {}) },
      timeoutMs: TIMEOUT_MS,
      maxBytes: MAX_REPLY_BYTES,
    })) as { id?: unknown; created?: unknown } | null;
    if (typeof body?.id !== "string" || body.id !== manifest.id) {
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
      const server = serverBaseUrl(o.server, { code: "NIXSEAL_ERR_SERVER_URL", exitCode: 2 });
      const tokenFile = o.tokenFile ?? ctx.io.env.NIXSEAL_SERVER_TOKEN_FILE;
      if (!tokenFile) {
        throw new NixsealError("NIXSEAL_ERR_SERVER_TOKEN_FILE", "pushing needs the server's operator token", { hints: ["pass --token-file FILE or set NIXSEAL_SERVER_TOKEN_FILE"], exitCode: 2 });
      }
      const token = await readTokenFile(resolve(ctx.io.cwd, tokenFile), { code: "NIXSEAL_ERR_SERVER_TOKEN_FILE" });
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

// What `nixseal-agent pull` checks in a server's reply before anything on the host
// changes: the operator's Ed25519 signature over the manifest (against the keys given
// with --trust-key), the manifest's schema, host and id, exactly the files it names,
// every file's sha256; and that no secret's version goes down (a replayed bundle).
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { NixsealError } from "../core/errors.js";
import { parseSshPublicKey, type SshPublicKey } from "../core/keys/ssh-public.js";
import type { BundleManifest } from "../core/schema/bundle.js";

/** = cli/commands/push.ts SIGNATURE_CONTEXT: the signature covers this line, then JSON.stringify(manifest). */
const SIGNATURE_CONTEXT = "nixseal-bundle-signature/v1\n";

export function usage(message: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_AGENT_USAGE", message, { hints: ["run nixseal-agent pull --help"], exitCode: 2 });
}

export function invalid(server: string, why: string): NixsealError {
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
export function readTrustKeys(files: string[]): SshPublicKey[] {
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

/** Secrets whose version the new manifest lowers: a replayed older bundle. */
export function downgrades(current: BundleManifest, next: BundleManifest): string[] {
  const now = new Map(current.secrets.map((s) => [s.name, s.version]));
  return next.secrets.filter((s) => s.version < (now.get(s.name) ?? 0)).map((s) => `${s.name} (${now.get(s.name)} -> ${s.version})`);
}

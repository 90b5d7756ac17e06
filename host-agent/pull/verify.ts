// What `nixseal-agent pull` checks in a server's reply before anything on the host
// changes: the operator's SSH signature over the manifest (against the keys given with
// --trust-key), the manifest's schema, host and id, exactly the files it names, every
// file's sha256; that its sequence is above the highest this host has run (an old
// bundle replayed), and that no secret's version goes down unless the operator signed
// a rollback.
import { readFileSync } from "node:fs";
import { decodeBundleFiles, verifyBundleSignature, type SignatureVerdict } from "../../core/bundle-signing.js";
import { NixsealError } from "../../core/errors.js";
import { parseSshPublicKey, type SshPublicKey } from "../../core/keys/ssh-public.js";
import { BUNDLE_MANIFEST } from "../../core/on-host.js";
import type { BundleManifest } from "../../core/schema/bundle.js";
import { errors } from "../errors.js";

/** A usage error of pull (exit 2), from the agent's catalogue. */
export function usage(message: string): NixsealError {
  return errors.usage([message], { hints: ["run nixseal-agent pull --help"] });
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
  signature?: unknown;
}

/** Reads the trusted signing keys: ssh-ed25519 or ssh-rsa public key lines (comments and blanks skipped). */
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
      keys.push(parseSshPublicKey(line.trim(), `${file}:${i + 1}`));
    });
  }
  if (keys.length === 0) throw usage(`no ssh public key in ${files.join(", ")}`);
  return keys;
}

/** What each refused signature tells the operator. */
const SIGNATURE_REFUSED: Record<Exclude<SignatureVerdict, "ok">, string> = {
  unsigned: "it is not signed (push with nixseal push --sign-key)",
  "bad-key": "its signing key is not an ssh public key",
  untrusted: "it is signed by a key not given with --trust-key",
  mismatch: "its signature does not match its manifest",
  namespace: "its signature was made for another purpose (not the nixseal-bundle-v1 namespace)",
  algorithm: "its signature uses a refused algorithm (ssh-rsa SHA-1, or an RSA key under 2048 bits)",
};

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
  if (trusted !== "server") {
    const verdict = verifyBundleSignature(r.manifest, r.signature, trusted);
    if (verdict !== "ok") throw invalid(origin, SIGNATURE_REFUSED[verdict]);
  }
  const [{ bundleManifestSchema }, { validate }] = await Promise.all([import("../../core/schema/bundle.js"), import("../../core/schema/parse.js")]);
  let manifest: BundleManifest;
  try {
    manifest = validate(bundleManifestSchema, r.manifest, BUNDLE_MANIFEST);
  } catch (err) {
    throw invalid(origin, err instanceof Error ? err.message : BUNDLE_MANIFEST);
  }
  if (manifest.host !== host) throw invalid(origin, `it is for host ${manifest.host}, not ${host}`);
  if (manifest.id !== r.id) throw invalid(origin, "its id differs from its manifest's");
  const decoded = decodeBundleFiles(manifest, r.files);
  if ("refused" in decoded) throw invalid(origin, decoded.refused);
  return { manifest, files: decoded.files };
}

/** Secrets whose version the new manifest lowers. */
function downgrades(current: BundleManifest, next: BundleManifest): string[] {
  const now = new Map(current.secrets.map((s) => [s.name, s.version]));
  return next.secrets.filter((s) => s.version < (now.get(s.name) ?? 0)).map((s) => `${s.name} (${now.get(s.name)} -> ${s.version})`);
}

/**
 * Refuses a bundle that would take this host back: a sequence not above the highest it
 * has run (a replay), or lower versions than the current generation without the
 * operator's signed rollback mark.
 *
 * @param ran - the highest sequence this host has run
 * @param current - the current generation's manifest, if any
 * @throws NixsealError NIXSEAL_ERR_PULL_REPLAY, NIXSEAL_ERR_PULL_DOWNGRADE
 */
export function refuseRollback(origin: string, next: BundleManifest, ran: number, current?: { generation: number; manifest: BundleManifest }): void {
  if (next.sequence === undefined) {
    throw new NixsealError("NIXSEAL_ERR_PULL_REPLAY", `the bundle from ${origin} has no sequence, so a replay of it could not be told apart`, {
      hints: ["nothing was changed on this host; push the bundle with nixseal push, which numbers every bundle"],
    });
  }
  if (next.sequence <= ran) {
    throw new NixsealError("NIXSEAL_ERR_PULL_REPLAY", `the bundle from ${origin} has sequence ${next.sequence}, not above ${ran}, the highest this host has run: an older bundle replayed`, {
      hints: ["nothing was changed on this host; the operator pushes a newer bundle with nixseal push (to return to older secrets on purpose: nixseal push --rollback)"],
    });
  }
  const lowered = current && !next.rollback ? downgrades(current.manifest, next) : [];
  if (lowered.length) {
    throw new NixsealError("NIXSEAL_ERR_PULL_DOWNGRADE", `the bundle from ${origin} has older versions than generation ${current!.generation}: ${lowered.join(", ")}`, {
      hints: ["nothing was changed on this host; if the operator meant it, they push it with nixseal push --rollback (signed), or rotate the secret, which raises its version"],
    });
  }
}

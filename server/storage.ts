// The server's store on disk: content-addressed and append-only.
//
//   blobs/<aa>/<sha256>                  every .age file and every manifest.json, by the
//                                        sha256 of its bytes; written once, never changed
//   hosts/<host>/bundles/<id>.json       a bundle record: the manifest blob's sha256, when pushed
//   hosts/<host>/latest                  the id of the host's latest bundle
//
// Every write is temp + fsync + rename (core's writeFileAtomic), and a push writes in
// that order: blobs, manifest blob, record, then the latest pointer. A crash at any
// point leaves the previous latest bundle whole (at worst some unreferenced blobs).
// Reads check each object against its sha256, so damage on disk is never served.
// Only ciphertext and manifests ever reach this directory.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic, type BundleManifest } from "../core/index.js";
import type { BundleSignature } from "../core/bundle-signing.js";
import { serverErrors } from "./errors.js";

/** A bundle as stored and served: the manifest plus the bytes of every file it names. */
export interface StoredBundle {
  id: string;
  host: string;
  /** When the server accepted it (ISO 8601). */
  pushedAt: string;
  manifest: BundleManifest;
  /** File name (as in the manifest) to its ciphertext. */
  files: Map<string, Buffer>;
  /** The operator's signature over the manifest, when the push carried one. */
  signature?: BundleSignature;
}

interface BundleRecord {
  id: string;
  host: string;
  manifest: string;
  pushedAt: string;
  signature?: BundleSignature;
}

const SHA256 = /^[0-9a-f]{64}$/;

function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The manifest without its creation time: two pushes of the same secrets compare equal. */
function sameContent(a: BundleManifest, b: BundleManifest): boolean {
  return JSON.stringify({ ...a, createdAt: "" }) === JSON.stringify({ ...b, createdAt: "" });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Bundles by host on disk. Host names and ids must be validated by the caller. */
export class BundleStore {
  /** Pushes of one host run one after another, so "latest" follows the order they arrived in. */
  private readonly queues = new Map<string, Promise<unknown>>();

  readonly root: string;

  /** @param root - the storage directory (created 0700 if absent) */
  constructor(root: string) {
    this.root = root;
  }

  /**
   * Creates the top-level directories and removes temp files a killed server left
   * (writeFileAtomic's `.NAME.RANDOM.tmp`; never read, since only renames publish).
   * One server per storage directory: another one's temp files would go too.
   */
  async init(): Promise<void> {
    await mkdir(join(this.root, "blobs"), { recursive: true, mode: 0o700 });
    await mkdir(join(this.root, "hosts"), { recursive: true, mode: 0o700 });
    for (const entry of await readdir(this.root, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && /^\..+\.[0-9a-f]{12}\.tmp$/.test(entry.name)) await rm(join(entry.parentPath, entry.name), { force: true });
    }
  }

  private blobPath(sha: string): string {
    return join(this.root, "blobs", sha.slice(0, 2), sha);
  }

  private hostDir(host: string): string {
    return join(this.root, "hosts", host);
  }

  private recordPath(host: string, id: string): string {
    return join(this.hostDir(host), "bundles", `${id}.json`);
  }

  /** Stores bytes under their sha256 (once: an existing blob is left as it is); returns the hash. */
  async putBlob(data: Uint8Array): Promise<string> {
    const sha = sha256Hex(data);
    const path = this.blobPath(sha);
    if (await exists(path)) return sha;
    await mkdir(join(this.root, "blobs", sha.slice(0, 2)), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, data, 0o600);
    return sha;
  }

  /**
   * Reads a blob and checks it against its name.
   *
   * @throws ServerError NIXSEAL_ERR_SERVER_CORRUPT when missing or changed on disk
   */
  async getBlob(sha: string): Promise<Buffer> {
    if (!SHA256.test(sha)) throw serverErrors.corrupt([sha.slice(0, 64)]);
    const data = await readIfExists(this.blobPath(sha));
    if (data === undefined || sha256Hex(data) !== sha) throw serverErrors.corrupt([sha]);
    return data;
  }

  /**
   * Stores a validated bundle and makes it the host's latest. The same content pushed
   * again (only createdAt differs) keeps its blobs; the record then names the newer
   * manifest and signature, so a signature always matches the manifest it is served with.
   *
   * @returns the bundle id and whether it was new
   * @throws ServerError NIXSEAL_ERR_SERVER_BUNDLE_CONFLICT when the id is taken by other content
   */
  async saveBundle(manifest: BundleManifest, files: Map<string, Buffer>, signature?: BundleSignature): Promise<{ id: string; created: boolean; pushedAt: string }> {
    return this.serialized(manifest.host, async () => {
      const { host, id } = manifest;
      const existing = await this.readBundle(host, id);
      if (existing && !sameContent(existing.manifest, manifest)) throw serverErrors.bundleConflict([host, id]);
      for (const s of manifest.secrets) await this.putBlob(files.get(s.file)!);
      const manifestSha = await this.putBlob(Buffer.from(JSON.stringify(manifest, null, 2) + "\n"));
      const pushedAt = new Date().toISOString();
      const record: BundleRecord = { id, host, manifest: manifestSha, pushedAt, ...(signature ? { signature } : {}) };
      await mkdir(join(this.hostDir(host), "bundles"), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.recordPath(host, id), JSON.stringify(record) + "\n", 0o600);
      await writeFileAtomic(join(this.hostDir(host), "latest"), id + "\n", 0o600);
      return { id, created: existing === undefined, pushedAt };
    });
  }

  /** The host's latest bundle, or undefined when it has none. */
  async latest(host: string): Promise<StoredBundle | undefined> {
    const pointer = await readIfExists(join(this.hostDir(host), "latest"));
    if (pointer === undefined) return undefined;
    const id = pointer.toString("utf8").trim();
    const bundle = SHA256.test(id) ? await this.readBundle(host, id) : undefined;
    // A pointer always names a record written before it; anything else is damage.
    if (!bundle) throw serverErrors.corrupt([`hosts/${host}/latest`]);
    return bundle;
  }

  /** One bundle of a host by id, or undefined. */
  async readBundle(host: string, id: string): Promise<StoredBundle | undefined> {
    const raw = await readIfExists(this.recordPath(host, id));
    if (raw === undefined) return undefined;
    let record: BundleRecord;
    try {
      record = JSON.parse(raw.toString("utf8")) as BundleRecord;
    } catch {
      throw serverErrors.corrupt([`hosts/${host}/bundles/${id}.json`]);
    }
    if (record.id !== id || record.host !== host) throw serverErrors.corrupt([`hosts/${host}/bundles/${id}.json`]);
    const manifest = JSON.parse((await this.getBlob(record.manifest)).toString("utf8")) as BundleManifest;
    if (manifest.id !== id || manifest.host !== host) throw serverErrors.corrupt([record.manifest]);
    const files = new Map<string, Buffer>();
    for (const s of manifest.secrets) {
      const blob = await this.getBlob(s.sha256);
      files.set(s.file, blob);
    }
    return { id, host, pushedAt: record.pushedAt, manifest, files, ...(record.signature ? { signature: record.signature } : {}) };
  }

  private serialized<T>(host: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(host) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => {});
    this.queues.set(host, settled);
    void settled.then(() => {
      if (this.queues.get(host) === settled) this.queues.delete(host);
    });
    return next;
  }
}

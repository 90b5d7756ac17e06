// Uploading many hosts' bundles to a nixseal server: gathered into batches (POST
// /v1/bundles) of a bounded size, a few batches on their way at once, so a rotation of
// the whole fleet is a few requests, each stored by the server with one fdatasync or
// one transaction. The server answers per host; a batch it finds too large
// (413, a server started with a smaller --body-limit) is split in two and sent again.
// `nixseal push` uses it, and so does the server benchmark.
import { NixsealError } from "../../core/errors.js";
import { printable } from "../../core/http-json.js";

/** One host's bundle as the server takes it: the manifest (signed as sent), its files as base64, the signature. */
export interface UploadBody {
  manifest: { host: string; id: string };
  files: Record<string, string>;
  signature?: string;
}

/** What became of one host's bundle. */
export type UploadResult =
  | { host: string; ok: true; id: string; sequence: number; created: boolean; pushedAt: string }
  | { host: string; ok: false; code: string; message: string; hints: string[] };

interface UploadOptions {
  /** Largest batch body in bytes (a single larger bundle goes alone). */
  maxBytes?: number;
  /** Most bundles in one batch. */
  maxBundles?: number;
  /** Batches on their way at once. */
  parallel?: number;
}

/** Sends a request to the server and returns its JSON reply (ServerClient.call). */
type CallServer = (method: "POST", path: string, body: unknown) => Promise<unknown>;

/** 4 MiB batches: well under the server's default 16 MiB --body-limit. */
const DEFAULT_BATCH_BYTES = 4 * 1024 * 1024;
const DEFAULT_BATCH_BUNDLES = 250;
/** Two batches at once: the server checks one while it stores the other. */
const DEFAULT_BATCH_PARALLEL = 2;

function failure(host: string, err: unknown): UploadResult {
  if (err instanceof NixsealError) return { host, ok: false, code: err.code, message: err.message, hints: err.hints };
  return { host, ok: false, code: "NIXSEAL_ERR_SERVER_REPLY", message: err instanceof Error ? err.message : String(err), hints: [] };
}

/** Reads the server's per-host results, one for each bundle sent, in order. */
function readResults(origin: string, sent: UploadBody[], reply: unknown): UploadResult[] {
  const results = (reply as { results?: unknown } | null)?.results;
  if (!Array.isArray(results) || results.length !== sent.length) {
    throw new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${origin} did not answer for every bundle sent`, { hints: ["check that --server points at nixseal-server"] });
  }
  return sent.map((b, i) => {
    const r = results[i] as Partial<UploadResult> & { host?: unknown; status?: unknown };
    if (r?.host !== b.manifest.host) return failure(b.manifest.host, new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${origin} answered for another host than ${b.manifest.host}`));
    if (r.ok === true && r.id === b.manifest.id && typeof r.sequence === "number") {
      return { host: b.manifest.host, ok: true, id: r.id, sequence: r.sequence, created: r.created === true, pushedAt: String(r.pushedAt) };
    }
    if (r.ok === true) return failure(b.manifest.host, new NixsealError("NIXSEAL_ERR_SERVER_REPLY", `${origin} did not confirm bundle ${b.manifest.id.slice(0, 16)}`));
    const f = r as { code?: unknown; message?: unknown; hints?: unknown };
    const code = typeof f.code === "string" && /^NIXSEAL_ERR_[A-Z_]{1,60}$/.test(f.code) ? f.code : "NIXSEAL_ERR_SERVER_REPLY";
    const hints = Array.isArray(f.hints) ? f.hints.slice(0, 5).map(printable) : [];
    return { host: b.manifest.host, ok: false, code, message: `${origin}: ${printable(f.message ?? "refused")}`, hints };
  });
}

/**
 * Collects bundles into batches and uploads them as they fill, at most `parallel` at
 * once: add() waits while that many are on their way, so a caller building bundles
 * never holds more than a few batches in memory.
 */
export class BundleUploader {
  private readonly call: CallServer;
  private readonly origin: string;
  private readonly maxBytes: number;
  private readonly maxBundles: number;
  private readonly parallel: number;
  private batch: UploadBody[] = [];
  private bytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly results = new Map<string, UploadResult>();
  /** Told of each host's result as it arrives. */
  onResult: ((r: UploadResult) => void) | undefined;

  constructor(call: CallServer, origin: string, o: UploadOptions = {}) {
    this.call = call;
    this.origin = origin;
    this.maxBytes = o.maxBytes ?? DEFAULT_BATCH_BYTES;
    this.maxBundles = o.maxBundles ?? DEFAULT_BATCH_BUNDLES;
    this.parallel = o.parallel ?? DEFAULT_BATCH_PARALLEL;
  }

  /** Adds one bundle; sends the batch when it is full. */
  async add(body: UploadBody): Promise<void> {
    // The bytes this bundle adds to a batch body, base64 and JSON quoting included.
    const size = JSON.stringify(body).length + 1;
    if (this.batch.length && (this.bytes + size > this.maxBytes || this.batch.length >= this.maxBundles)) await this.flush();
    this.batch.push(body);
    this.bytes += size;
  }

  /** Sends what is left and waits for every batch; returns each host's result. */
  async finish(): Promise<Map<string, UploadResult>> {
    await this.flush();
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
    return this.results;
  }

  private async flush(): Promise<void> {
    if (!this.batch.length) return;
    const batch = this.batch;
    this.batch = [];
    this.bytes = 0;
    const sending: Promise<void> = this.send(batch).finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
    while (this.inFlight.size >= this.parallel) await Promise.race([...this.inFlight]);
  }

  private record(rs: UploadResult[]): void {
    for (const r of rs) {
      this.results.set(r.host, r);
      this.onResult?.(r);
    }
  }

  private async send(batch: UploadBody[]): Promise<void> {
    let reply: unknown;
    try {
      reply = await this.call("POST", "v1/bundles", { bundles: batch });
    } catch (err) {
      if (err instanceof NixsealError && err.code === "NIXSEAL_ERR_SERVER_BODY_TOO_LARGE" && batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await Promise.all([this.send(batch.slice(0, half)), this.send(batch.slice(half))]);
        return;
      }
      this.record(batch.map((b) => failure(b.manifest.host, err)));
      return;
    }
    try {
      this.record(readResults(this.origin, batch, reply));
    } catch (err) {
      this.record(batch.map((b) => failure(b.manifest.host, err)));
    }
  }
}

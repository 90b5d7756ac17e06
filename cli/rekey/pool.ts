import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { NixsealError, encrypt, parseRecipient, type Recipient } from "../../core/index.js";
import type { EncryptJob, EncryptReply, WorkerInit } from "./protocol.js";

/**
 * One secret to encrypt: the recipient lines it goes to, and its plaintext
 * (or a function that produces it on demand, e.g. by decrypting, so that
 * decryption in this thread overlaps encryption in the workers and not every
 * plaintext is held at once).
 */
export interface PlainJob {
  name: string;
  recipients: string[];
  plaintext: Uint8Array | (() => Promise<Uint8Array> | Uint8Array);
}

/** Below this many jobs, starting workers costs more than it saves. */
export const PARALLEL_THRESHOLD = 24;

/**
 * Encrypts many secrets, in worker threads when there are enough of them (one
 * per core), else in this thread, and hands each ciphertext to onResult as it
 * arrives. Plaintext reaches workers only by postMessage (a transferred copy;
 * the original is zeroed here); never argv, env or disk. The first failure
 * rejects; onResult is then not called again.
 *
 * @param opts.workers - force a worker count (0 = in this thread)
 */
export async function encryptEach(
  jobs: PlainJob[],
  onResult: (name: string, ciphertext: Uint8Array) => void,
  opts: { workers?: number } = {},
): Promise<void> {
  const script = workerScript();
  const wanted = opts.workers ?? (jobs.length >= PARALLEL_THRESHOLD ? availableParallelism() : 0);
  const count = script ? Math.min(wanted, jobs.length) : 0;
  if (count > 0) return encryptInWorkers(jobs, count, script!, onResult);
  return encryptHere(jobs, onResult);
}

/** encryptEach, collected: ciphertext per secret name. */
export async function encryptMany(jobs: PlainJob[], opts: { workers?: number } = {}): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  await encryptEach(jobs, (name, ct) => out.set(name, ct), opts);
  return out;
}

async function plaintextOf(job: PlainJob): Promise<Uint8Array> {
  return typeof job.plaintext === "function" ? await job.plaintext() : job.plaintext;
}

/**
 * A parser of nixseal.json's recipient lines that parses each line once (the
 * per-key work, e.g. the Ed25519 to X25519 conversion, then serves every secret).
 */
export function recipientParser(): (line: string) => Promise<Recipient> {
  const cache = new Map<string, Promise<Recipient>>();
  return (line) => {
    let r = cache.get(line);
    if (!r) cache.set(line, (r = parseRecipient(line, "nixseal.json")));
    return r;
  };
}

async function encryptHere(jobs: PlainJob[], onResult: (name: string, ct: Uint8Array) => void): Promise<void> {
  const recipient = recipientParser();
  for (const job of jobs) {
    const recipients = await Promise.all(job.recipients.map(recipient));
    const plaintext = await plaintextOf(job);
    try {
      onResult(job.name, encrypt(plaintext, recipients));
    } finally {
      if (typeof job.plaintext === "function") plaintext.fill(0);
    }
  }
}

function encryptInWorkers(jobs: PlainJob[], count: number, script: URL, onResult: (name: string, ct: Uint8Array) => void): Promise<void> {
  const index = new Map<string, number>();
  const lines: string[] = [];
  const refs = jobs.map((job) =>
    job.recipients.map((line) => {
      let i = index.get(line);
      if (i === undefined) {
        i = lines.length;
        lines.push(line);
        index.set(line, i);
      }
      return i;
    }),
  );
  const init: WorkerInit = { recipients: lines };
  const workers: Worker[] = [];
  return new Promise<void>((resolve, reject) => {
    let next = 0;
    let done = 0;
    let settled = false;
    const finish = (failure?: { err: unknown }): void => {
      if (settled) return;
      settled = true;
      for (const w of workers) void w.terminate();
      if (failure) reject(failure.err);
      else resolve();
    };
    const feed = async (w: Worker): Promise<void> => {
      if (settled || next >= jobs.length) return;
      const id = next++;
      const job = jobs[id]!;
      const plaintext = await plaintextOf(job);
      // A private copy whose buffer can be transferred (the original may be a view into a pool).
      const copy = new Uint8Array(plaintext);
      if (typeof job.plaintext === "function") plaintext.fill(0);
      if (settled) return void copy.fill(0);
      const msg: EncryptJob = { id, plaintext: copy, recipients: refs[id]! };
      w.postMessage(msg, [copy.buffer as ArrayBuffer]);
    };
    const feedOrFail = (w: Worker): void => void feed(w).catch((err: unknown) => finish({ err }));
    for (let k = 0; k < count; k++) {
      const w = new Worker(fileURLToPath(script), { workerData: init });
      workers.push(w);
      w.on("message", (reply: EncryptReply) => {
        if (settled) return;
        if ("error" in reply) {
          return finish({ err: new NixsealError(reply.code ?? "NIXSEAL_ERR_INTERNAL", `cannot encrypt ${jobs[reply.id]!.name}: ${reply.error}`) });
        }
        try {
          onResult(jobs[reply.id]!.name, reply.ciphertext);
        } catch (err) {
          return finish({ err });
        }
        if (++done === jobs.length) return finish();
        feedOrFail(w);
      });
      w.on("error", (err) => finish({ err: new NixsealError("NIXSEAL_ERR_INTERNAL", `rekey worker failed: ${err.message}`, { cause: err }) }));
      // Two jobs in flight per worker keeps it busy while a reply travels back.
      feedOrFail(w);
      feedOrFail(w);
    }
  });
}

/**
 * The compiled worker script. Running from TypeScript sources (tests), the
 * compiled copy in dist/ is used when present; without it, work stays in this thread.
 */
function workerScript(): URL | null {
  const here = new URL("./worker.js", import.meta.url);
  if (import.meta.url.endsWith(".js")) return here;
  const built = new URL("../../dist/cli/rekey/worker.js", import.meta.url);
  return existsSync(fileURLToPath(built)) ? built : null;
}

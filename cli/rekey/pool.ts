import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { NixsealError, encrypt, parseRecipient, type Recipient } from "../../core/index.js";
import type { EncryptJob, EncryptReply, WorkerInit } from "./protocol.js";

/** One secret to encrypt: its plaintext and the recipient lines it goes to. */
export interface PlainJob {
  name: string;
  plaintext: Uint8Array;
  recipients: string[];
}

/** Below this many jobs, starting workers costs more than it saves. */
export const PARALLEL_THRESHOLD = 24;

/**
 * Encrypts many secrets, in worker threads when there are enough of them
 * (one per core), else in this thread. Plaintext reaches workers only by
 * postMessage (transferred, then zeroed here); never argv, env or disk.
 *
 * @param opts.workers - force a worker count (0 = in this thread)
 * @returns ciphertext per secret name
 */
export async function encryptMany(jobs: PlainJob[], opts: { workers?: number } = {}): Promise<Map<string, Uint8Array>> {
  const script = workerScript();
  const wanted = opts.workers ?? (jobs.length >= PARALLEL_THRESHOLD ? availableParallelism() : 0);
  const count = script ? Math.min(wanted, jobs.length) : 0;
  return count > 0 ? encryptInWorkers(jobs, count, script!) : encryptHere(jobs);
}

async function encryptHere(jobs: PlainJob[]): Promise<Map<string, Uint8Array>> {
  const cache = new Map<string, Promise<Recipient>>();
  const out = new Map<string, Uint8Array>();
  for (const job of jobs) {
    const recipients = await Promise.all(
      job.recipients.map((line) => {
        let r = cache.get(line);
        if (!r) cache.set(line, (r = parseRecipient(line, "nixseal.json")));
        return r;
      }),
    );
    out.set(job.name, encrypt(job.plaintext, recipients));
  }
  return out;
}

function encryptInWorkers(jobs: PlainJob[], count: number, script: URL): Promise<Map<string, Uint8Array>> {
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
  const out = new Map<string, Uint8Array>();
  const workers: Worker[] = [];
  return new Promise<Map<string, Uint8Array>>((resolve, reject) => {
    let next = 0;
    let done = 0;
    let failed = false;
    const finish = (err?: unknown): void => {
      if (failed) return;
      if (err) failed = true;
      for (const w of workers) void w.terminate();
      if (err) reject(err);
      else resolve(out);
    };
    const feed = (w: Worker): void => {
      if (next >= jobs.length) return;
      const id = next++;
      // A private copy whose buffer can be transferred (the original may be a view into a pool).
      const copy = new Uint8Array(jobs[id]!.plaintext);
      const job: EncryptJob = { id, plaintext: copy, recipients: refs[id]! };
      w.postMessage(job, [copy.buffer as ArrayBuffer]);
    };
    for (let k = 0; k < count; k++) {
      const w = new Worker(fileURLToPath(script), { workerData: init });
      workers.push(w);
      w.on("message", (reply: EncryptReply) => {
        if ("error" in reply) {
          return finish(new NixsealError(reply.code ?? "NIXSEAL_ERR_INTERNAL", `cannot encrypt ${jobs[reply.id]!.name}: ${reply.error}`));
        }
        out.set(jobs[reply.id]!.name, reply.ciphertext);
        if (++done === jobs.length) return finish();
        feed(w);
      });
      w.on("error", (err) => finish(new NixsealError("NIXSEAL_ERR_INTERNAL", `rekey worker failed: ${err.message}`, { cause: err })));
      // Two jobs in flight per worker keeps it busy while a reply travels back.
      feed(w);
      feed(w);
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

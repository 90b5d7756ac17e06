// Decrypting a generation on two threads. At boot the X25519 work is most of the
// restore, and a host has cores to spare: a worker thread (decrypt-worker.ts), started
// while the main thread still reads the bundle, decrypts alongside. Both claim the
// next secret from one shared counter, so neither waits on the other. Only the main
// thread writes files. A worker that cannot start, fails or dies costs time, never a
// secret: the main thread decrypts whatever it did not hand back.
import { existsSync } from "node:fs";
import type { MessagePort, Worker } from "node:worker_threads";
import { NixsealError } from "../../core/errors.js";
import { decryptWorkerFile } from "../own-files.js";

// Loaded on use: a restore of a few secrets never starts a worker and skips their ~3 ms.
const threads = (): typeof import("node:worker_threads") => process.getBuiltinModule("node:worker_threads");

/** One decrypted secret, or why it did not decrypt (an age error message, never a value). */
export type DecryptResult = { plaintext: Uint8Array } | { why: string };

/** What the main thread sends the worker: every ciphertext in one shared buffer, and the claim counter. */
export interface WorkerJob {
  ciphertexts: SharedArrayBuffer;
  /** ends[k] is where ciphertext k ends (it starts where k-1 ends). */
  ends: Uint32Array;
  counter: SharedArrayBuffer;
  port: MessagePort;
}

/** What the worker sends back: one reply per claimed secret, then done. */
export type WorkerReply = { k: number; plaintext: Uint8Array } | { k: number; why: string } | { done: true };

/** Below this many secrets a second thread does not pay for its start-up (50-100 ms of CPU, as long as 200-400 decryptions). */
export const MIN_PARALLEL = 200;

/**
 * Whether a worker would find spare CPU: the 1-minute load average is below the core
 * count. The worker's start-up costs ~50-100 ms of CPU. Measured on 2 cores, 1000
 * secrets: at load ~1.3 the worker made the restore ~25 % faster; at load ~2 (both cores
 * busy with other work) ~10 % slower. Early in a boot the average is still near 0.
 */
function spareCore(): boolean {
  const os = process.getBuiltinModule("node:os");
  const cores = os.availableParallelism();
  return cores >= 2 && os.loadavg()[0]! < cores;
}

/**
 * A decrypt worker for a bundle of `count` secrets when one pays (MIN_PARALLEL or more,
 * and spare CPU); undefined otherwise.
 */
export function helperFor(count: number, identityPaths: readonly string[]): DecryptHelper | undefined {
  return count >= MIN_PARALLEL && spareCore() ? startDecryptHelper(identityPaths) : undefined;
}

/** Why a decryption failed, for the secret's error message. */
export function whyNot(err: unknown): string {
  return err instanceof NixsealError ? err.message : "not a valid age file";
}

/** Ciphertext k of a job. */
export function ciphertextOf(job: Pick<WorkerJob, "ciphertexts" | "ends">, k: number): Uint8Array {
  const start = k === 0 ? 0 : job.ends[k - 1]!;
  return new Uint8Array(job.ciphertexts, start, job.ends[k]! - start);
}

/** A started decrypt worker, for one run. */
export interface DecryptHelper {
  /**
   * Decrypts every blob, here and in the worker; `take` runs on this thread once for
   * each index, in any order. A throw from `take` stops the run (the worker stops
   * claiming; a plaintext it still sends is zeroed or ends with it) and is rethrown.
   */
  run(blobs: readonly Uint8Array[], decryptHere: (blob: Uint8Array) => Uint8Array, take: (k: number, r: DecryptResult) => void): Promise<{ byWorker: number }>;
  /** Settles once the worker has its keys (true) or has died (false). Nothing waits for it but tests. */
  ready: Promise<boolean>;
  /** Ends the worker (also when run was never called). */
  close(): void;
}

/**
 * Starts the worker when this machine has a second core; undefined otherwise, or when
 * the worker's file is absent (the TypeScript sources under a test runner).
 *
 * @param identityPaths - the host keys; the worker reads them itself
 * @param workerFile - the worker module (default: host-agent/decrypt-worker.js)
 */
export function startDecryptHelper(identityPaths: readonly string[], workerFile: URL | string = decryptWorkerFile()): DecryptHelper | undefined {
  if (process.getBuiltinModule("node:os").availableParallelism() < 2 || !existsSync(workerFile)) return undefined;
  let worker: Worker;
  try {
    worker = new (threads().Worker)(workerFile, { workerData: { identityPaths: [...identityPaths] } });
  } catch {
    return undefined;
  }
  let exited = false;
  const exitWaiters: Array<() => void> = [];
  worker.on("error", () => {}); // seen as the exit below: the main thread takes over
  worker.on("exit", () => {
    exited = true;
    for (const w of exitWaiters.splice(0)) w();
  });
  worker.unref(); // never keeps the agent alive
  const ready = new Promise<boolean>((resolve) => {
    worker.once("message", (m) => resolve(m === "ready"));
    exitWaiters.push(() => resolve(false));
  });
  return {
    ready,
    close: () => void worker.terminate(),
    run: (blobs, decryptHere, take) => runShared(worker, () => exited, exitWaiters, blobs, decryptHere, take),
  };
}

async function runShared(
  worker: Worker,
  exited: () => boolean,
  exitWaiters: Array<() => void>,
  blobs: readonly Uint8Array[],
  decryptHere: (blob: Uint8Array) => Uint8Array,
  take: (k: number, r: DecryptResult) => void,
): Promise<{ byWorker: number }> {
  const n = blobs.length;
  const claim = new Int32Array(new SharedArrayBuffer(4));
  const handled = new Uint8Array(n);
  let open = n; // secrets not handled yet
  let byWorker = 0;
  let workerDone = false;
  let failure: { err: unknown } | undefined;
  const stop = (err: unknown): void => {
    failure = { err };
    Atomics.store(claim, 0, n); // the worker claims nothing more
  };
  // After a failure nothing is taken any more: late plaintexts are only zeroed.
  const give = (k: number, r: DecryptResult): void => {
    handled[k] = 1;
    open--;
    if (failure) {
      if ("plaintext" in r) r.plaintext.fill(0);
      return;
    }
    try {
      take(k, r);
    } catch (err) {
      stop(err);
    }
  };
  const accept = (r: WorkerReply): void => {
    if ("done" in r) workerDone = true;
    else if (!handled[r.k]) {
      byWorker++;
      give(r.k, "plaintext" in r ? { plaintext: r.plaintext } : { why: r.why });
    }
  };
  const here = (k: number): void => {
    let r: DecryptResult;
    try {
      r = { plaintext: decryptHere(blobs[k]!) };
    } catch (err) {
      r = { why: whyNot(err) };
    }
    give(k, r);
  };

  const { MessageChannel, receiveMessageOnPort } = threads();
  const { port1, port2 } = new MessageChannel();
  const drain = (): void => {
    for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) accept(m.message as WorkerReply);
  };
  try {
    if (!exited()) {
      // Ciphertext only, copied once into memory both threads see: nothing else crosses.
      const ends = new Uint32Array(n);
      let total = 0;
      blobs.forEach((b, k) => (ends[k] = total += b.length));
      const ciphertexts = new SharedArrayBuffer(total);
      const all = new Uint8Array(ciphertexts);
      blobs.forEach((b, k) => all.set(b, ends[k]! - b.length));
      worker.postMessage({ ciphertexts, ends, counter: claim.buffer as SharedArrayBuffer, port: port2 } satisfies WorkerJob, [port2]);
    }
    while (!failure) {
      drain();
      const k = Atomics.add(claim, 0, 1);
      if (k >= n) break;
      here(k);
    }
    // Secrets the worker holds: wait for them (or for its death). A worker still
    // starting up holds none, and is not waited for.
    drain();
    if (open > 0 && !failure && !workerDone && !exited()) {
      await new Promise<void>((resolve) => {
        exitWaiters.push(resolve);
        port1.on("message", (m: WorkerReply) => {
          accept(m);
          if (open === 0 || failure || workerDone) resolve();
        });
      });
    }
    drain(); // what a dying worker sent last
    // Claimed by a worker that died before handing them back.
    for (let k = 0; k < n && !failure; k++) if (!handled[k]) here(k);
  } finally {
    port1.close();
  }
  if (failure) throw failure.err;
  return { byWorker };
}

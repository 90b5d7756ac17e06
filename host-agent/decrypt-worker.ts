// The decrypt worker thread (see plaintext/parallel-decrypt.ts): loads the host keys itself,
// then, per job, claims secrets from the counter it shares with the main thread and
// hands each plaintext back whole (its buffer transferred, so no copy stays here).
// It never writes a file: the main thread alone does, with all the checks.
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { decrypt } from "../core/age/decrypt.js";
import { readHostIdentities } from "./plaintext/read-host-keys.js";
import { ciphertextOf, whyNot, type WorkerJob, type WorkerReply } from "./plaintext/parallel-decrypt.js";

const { identityPaths } = workerData as { identityPaths: string[] };

// The keys the main thread loads, read the same way; any problem is reported there
// (this thread then decrypts nothing and the main thread does it all).
const found = (await readHostIdentities(identityPaths)).identities;
const identities = found.length ? found : undefined;

/** The plaintext in an ArrayBuffer of its own, so transferring it moves exactly these bytes. */
function ownBuffer(pt: Uint8Array): Uint8Array {
  if (pt.byteOffset === 0 && pt.byteLength === pt.buffer.byteLength && pt.buffer instanceof ArrayBuffer) return pt;
  const copy = new Uint8Array(new ArrayBuffer(pt.byteLength));
  copy.set(pt);
  pt.fill(0);
  return copy;
}

function run(job: WorkerJob): void {
  const port: MessagePort = job.port;
  const claim = new Int32Array(job.counter);
  const reply = (r: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(r, transfer);
  if (identities) {
    for (;;) {
      const k = Atomics.add(claim, 0, 1);
      if (k >= job.ends.length) break;
      try {
        const pt = ownBuffer(decrypt(ciphertextOf(job, k), identities));
        reply({ k, plaintext: pt }, [pt.buffer as ArrayBuffer]);
      } catch (err) {
        reply({ k, why: whyNot(err) });
      }
    }
  }
  reply({ done: true });
  port.close();
}

parentPort!.on("message", (job: WorkerJob) => run(job));
parentPort!.postMessage(identities ? "ready" : "no keys");

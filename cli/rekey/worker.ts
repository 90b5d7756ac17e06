// A rekey worker: parses each recipient line once (on first use), then
// encrypts the plaintexts it is sent. Plaintext arrives by postMessage
// (transferred, in memory only) and is zeroed after use.
import { parentPort, workerData } from "node:worker_threads";
import { encrypt, parseRecipient, type Recipient } from "../../core/index.js";
import type { EncryptJob, EncryptReply, WorkerInit } from "./protocol.js";

const init = workerData as WorkerInit;
const parsed = new Map<number, Promise<Recipient>>();
const recipientAt = (i: number): Promise<Recipient> => {
  let r = parsed.get(i);
  if (!r) {
    r = parseRecipient(init.recipients[i]!, "nixseal.json");
    parsed.set(i, r);
  }
  return r;
};

async function handle(job: EncryptJob): Promise<void> {
  let reply: EncryptReply;
  try {
    const recipients = await Promise.all(job.recipients.map(recipientAt));
    const ciphertext = encrypt(job.plaintext, recipients);
    reply = { id: job.id, ciphertext };
  } catch (err) {
    reply = { id: job.id, error: err instanceof Error ? err.message : String(err), code: (err as { code?: string }).code };
  } finally {
    job.plaintext.fill(0);
  }
  const transfer = "ciphertext" in reply ? [reply.ciphertext.buffer as ArrayBuffer] : [];
  parentPort!.postMessage(reply, transfer);
}

parentPort!.on("message", (job: EncryptJob) => void handle(job));

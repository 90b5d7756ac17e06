/** Messages between the rekey pool and its workers. Plaintext only ever travels in these, in memory. */
export interface WorkerInit {
  /** Every distinct recipient line of the job set; jobs refer to them by index. */
  recipients: string[];
}
export interface EncryptJob {
  id: number;
  plaintext: Uint8Array;
  recipients: number[];
}
export type EncryptReply = { id: number; ciphertext: Uint8Array } | { id: number; error: string; code?: string };

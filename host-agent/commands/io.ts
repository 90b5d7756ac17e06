// Where the agent's commands print: stderr for progress and results (the journal, for
// units), stdout for data (`status --json`, `check`, `stage`).

/** One output stream; only write() is used (entry.ts writes with write(2)). */
export interface Output {
  write(data: string | Uint8Array): unknown;
}

export interface AgentIo {
  stdout: Output;
  stderr: Output;
}

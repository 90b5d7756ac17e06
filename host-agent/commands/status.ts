// `nixseal-agent status [--json]`: the host status report, from disk.
import { collectStatus, formatStatus } from "../status/host-status.js";
import type { AgentIo } from "./io.js";
import { invocationConfig, type Invocation } from "./invocation.js";

/** Exit 1 when a secret of the current generation failed. */
export async function status(inv: Invocation, io: AgentIo): Promise<number> {
  const s = await collectStatus(await invocationConfig(inv));
  io.stdout.write(inv.values.json ? JSON.stringify(s, null, 2) + "\n" : formatStatus(s));
  // not 0 unless every secret and template of the current generation is live and fine
  return [...s.secrets, ...(s.templates ?? [])].some((x) => x.ok === false || !x.present) ? 1 : 0;
}

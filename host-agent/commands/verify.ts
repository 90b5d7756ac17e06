// `nixseal-agent verify [--json]`: is every secret of the current generation live and
// right, and did its consumers start after it? (host-agent/status/verify.ts)
import { collectVerify, formatVerify } from "../status/verify.js";
import type { AgentIo } from "./io.js";
import { invocationConfig, type Invocation } from "./invocation.js";

/** Exit 1 when anything is missing, wrong or out of order. */
export async function verify(inv: Invocation, io: AgentIo): Promise<number> {
  const r = await collectVerify(await invocationConfig(inv));
  io.stdout.write(inv.values.json ? JSON.stringify(r, null, 2) + "\n" : formatVerify(r));
  return r.ok ? 0 : 1;
}

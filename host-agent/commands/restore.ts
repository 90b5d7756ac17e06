// `nixseal-agent restore`, the boot oneshot's command (on the boot path: imported statically).
import { restore as restoreGeneration } from "../boot/restore.js";
import { restoreForUsers } from "../plaintext/for-users.js";
import type { AgentIo } from "./io.js";
import { invocationConfig, type Invocation } from "./invocation.js";
import { say, summarize } from "./report.js";

/** Exit 1 when a secret failed or current was unusable and previous was restored. */
export async function restore(inv: Invocation, io: AgentIo): Promise<number> {
  const config = await invocationConfig(inv);
  if (inv.values.forUsers) {
    const f = await restoreForUsers(config);
    const n = f.names.length;
    say(io, f.generation === null ? `no generation installed in ${config.stateDir}: no secret for users` : `restored ${n} secret${n === 1 ? "" : "s"} for users from generation ${f.generation} into ${config.forUsersDir}${n ? `: ${f.names.join(", ")}` : ""}`);
    return 0;
  }
  const r = await restoreGeneration(config);
  if (r.generation === null || !r.outcome) {
    say(io, `no generation installed in ${config.stateDir}: nothing to restore`);
    return 0;
  }
  if (r.sealProblem) say(io, `warning: generation ${r.generation}: ${r.sealProblem}; each secret was decrypted on its own (staging the same bundle again writes a new seal)`);
  if (r.fellBackFrom) say(io, `error: current generation ${r.fellBackFrom.generation} is unusable (${r.fellBackFrom.reason}); restored previous generation ${r.generation}`);
  return summarize(io, "restored", r.outcome, config) || (r.fellBackFrom ? 1 : 0);
}

// The commands that change generations by hand: stage, import (and image baking with
// --root), activate, rollback. The operations are generations/operations.ts's, which
// the API runs too.
import * as operations from "../generations/operations.js";
import { errors } from "../errors.js";
import type { AgentIo } from "./io.js";
import { invocationConfig, type Invocation } from "./invocation.js";
import { say, summarize } from "./report.js";

function generationArg(s: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(s)) {
    throw errors.usage([`"${s}" is not a generation number`], { hints: ["list them with nixseal-agent status"] });
  }
  return Number(s);
}

/** `stage DIR`: prints the pending generation's number on stdout. */
export async function stage(inv: Invocation, io: AgentIo): Promise<number> {
  const s = await operations.stage(await invocationConfig(inv), inv.operands[0]!);
  say(io, s.existing ? `bundle already stored as generation ${s.generation}` : `staged generation ${s.generation} (${s.secrets.length} secrets)`);
  io.stdout.write(`${s.generation}\n`);
  return 0;
}

/** `import DIR`, or `import DIR --root IMG` (store it in an offline image as current). */
export async function importDir(inv: Invocation, io: AgentIo): Promise<number> {
  const config = await invocationConfig(inv);
  const dir = inv.operands[0]!;
  if (inv.values.root) {
    const s = await operations.bakeBundle(config, dir, inv.values.root);
    say(io, `stored generation ${s.generation} (${s.secrets.length} secrets) as current in ${config.stateDir}; the first boot restores it`);
    return 0;
  }
  const r = await operations.importBundle(config, dir);
  return summarize(io, "imported", r.activation, config);
}

/** `activate N`. */
export async function activate(inv: Invocation, io: AgentIo): Promise<number> {
  const config = await invocationConfig(inv);
  return summarize(io, "activated", await operations.activate(config, generationArg(inv.operands[0]!)), config);
}

/** `rollback`. */
export async function rollback(inv: Invocation, io: AgentIo): Promise<number> {
  const config = await invocationConfig(inv);
  return summarize(io, "rolled back to", await operations.rollback(config), config);
}

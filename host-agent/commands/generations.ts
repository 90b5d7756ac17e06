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
  for (const w of s.warnings) say(io, `warning: ${w}`);
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
    for (const w of s.warnings) say(io, `warning: ${w}`);
    say(io, `stored generation ${s.generation} (${s.secrets.length} secrets) as current in ${config.stateDir}; the first boot restores it`);
    return 0;
  }
  const r = await operations.importBundle(config, dir);
  // stage and activation each read the host keys: say each skipped identity file once
  for (const w of r.stage.warnings) if (!r.activation.warnings.includes(w)) say(io, `warning: ${w}`);
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

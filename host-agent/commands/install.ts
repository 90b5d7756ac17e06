// `nixseal-agent install [--agent PATH] [--no-start]`: the systemd units of a plain systemd host.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { DEFAULT_CONFIG_PATH } from "../config/defaults.js";
import { errors } from "../errors.js";
import { installUnits } from "../systemd/install-units.js";
import type { AgentIo } from "./io.js";
import { invocationConfig, type Invocation } from "./invocation.js";
import { say } from "./report.js";

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}

export async function install(inv: Invocation, io: AgentIo): Promise<number> {
  const config = await invocationConfig(inv);
  const noStart = inv.values.noStart === true;
  const agent = inv.values.agent ?? findOnPath("nixseal-agent") ?? process.argv[1];
  if (!agent || !agent.startsWith("/")) throw errors.usage(["cannot tell where nixseal-agent is"], { hints: ["pass --agent /absolute/path/to/nixseal-agent"] });
  const files = await installUnits({ agent, config: inv.values.config ?? DEFAULT_CONFIG_PATH, readWritePaths: config.readWritePaths, identityPaths: config.identityPaths, systemctl: !noStart });
  for (const f of files) say(io, `wrote ${f}`);
  if (!noStart) say(io, "enabled and started run-nixseal.mount, nixseal-secrets.target and nixseal-agent.socket (it starts the agent on demand)");
  return 0;
}

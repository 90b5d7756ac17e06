// `nixseal-agent install [--agent PATH] [--no-start] [--server URL (--trust-key FILE... |
// --trust-server) [--follow]]`: the systemd units of a plain systemd host, with those that
// pull from a nixseal server when --server is given (a timer, or --follow's service).
import { accessSync, constants } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { serverBaseUrl } from "../../core/http-json.js";
import { DEFAULT_CONFIG_PATH } from "../config/defaults.js";
import { errors } from "../errors.js";
import { readTrustKeys, usage } from "../pull/verify.js";
import { installUnits, type PullUnitsOptions } from "../systemd/install-units.js";
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

/** The pull units' options, checked as pull checks them: a bad URL or key fails the install, not every pull after it. */
function pullUnitsOf(v: Invocation["values"]): PullUnitsOptions | undefined {
  if (v.server === undefined) {
    if (v.trustKey || v.trustServer || v.follow || v.host) throw usage("--trust-key, --trust-server, --follow and --host go with --server URL");
    return undefined;
  }
  if (!v.trustKey === !v.trustServer) throw usage("install --server needs either --trust-key FILE (the operator's signing key) or --trust-server");
  const server = serverBaseUrl(v.server, { code: errors.usage.code, exitCode: 2 });
  const keys = (v.trustKey ?? []).map((k) => resolve(k));
  if (keys.length) readTrustKeys(keys);
  return {
    follow: v.follow === true,
    args: ["--server", server.href, ...(keys.length ? keys.flatMap((k) => ["--trust-key", k]) : ["--trust-server"]), ...(v.host ? ["--host", v.host] : [])],
  };
}

export async function install(inv: Invocation, io: AgentIo): Promise<number> {
  const pull = pullUnitsOf(inv.values);
  const config = await invocationConfig(inv);
  const noStart = inv.values.noStart === true;
  const agent = inv.values.agent ?? findOnPath("nixseal-agent") ?? process.argv[1];
  if (!agent || !agent.startsWith("/")) throw errors.usage(["cannot tell where nixseal-agent is"], { hints: ["pass --agent /absolute/path/to/nixseal-agent"] });
  const files = await installUnits({ agent, config: inv.values.config ?? DEFAULT_CONFIG_PATH, readWritePaths: config.readWritePaths, identityPaths: config.identityPaths, systemctl: !noStart, ...(pull ? { pull } : {}) });
  for (const f of files) say(io, `wrote ${f}`);
  if (!noStart) say(io, "enabled and started run-nixseal.mount, nixseal-secrets.target and nixseal-agent.socket (it starts the agent on demand)");
  if (!noStart && pull) say(io, pull.follow ? "enabled and started nixseal-follow.service (each new bundle installed as it is pushed)" : "enabled and started nixseal-pull.timer (a pull every 10 minutes)");
  return 0;
}

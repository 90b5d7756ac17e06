// `nixseal-agent serve`: the API until SIGTERM.
import { serve as serveApi } from "../api/serve.js";
import type { AgentIo } from "./io.js";
import { invocationConfig, type Invocation } from "./invocation.js";
import { say } from "./report.js";

export async function serve(inv: Invocation, io: AgentIo): Promise<number> {
  await serveApi(await invocationConfig(inv), (l) => say(io, l));
  return 0;
}

// `nixseal-agent serve`: the API on the root-only unix socket (dir 0700, socket 0600).
// Fastify is loaded here only, never on the boot restore path.
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { AgentConfig } from "../config/defaults.js";
import { errors } from "../errors.js";

/** Listens until SIGTERM/SIGINT; resolves when closed. */
export async function serve(config: AgentConfig, log: (line: string) => void): Promise<void> {
  const { buildAgent } = await import("./app.js");
  const app = await buildAgent({ config, logger: { level: "info" } });
  const dir = dirname(config.socket);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw errors.plantedSymlink([dir]);
  chmodSync(dir, 0o700);
  try {
    if (lstatSync(config.socket).isSocket()) unlinkSync(config.socket); // stale from a crash
  } catch {
    // none
  }
  await app.listen({ path: config.socket });
  chmodSync(config.socket, 0o600);
  log(`listening on ${config.socket}`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      void app.close().then(() => resolve());
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

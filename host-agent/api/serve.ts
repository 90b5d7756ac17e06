// `nixseal-agent serve`: the API on the root-only unix socket. Under systemd the socket
// belongs to nixseal-agent.socket (dir 0700, socket 0600): the agent is started on the
// first connection, takes the listening socket as fd 3 (LISTEN_FDS) and exits once no
// connection has been open for idleExitSeconds, so nothing stays resident between
// deploys. Run by hand (no LISTEN_FDS) it binds the path itself and stays up.
// Fastify is loaded here only, never on the boot restore path.
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import type { Server } from "node:net";
import { dirname } from "node:path";
import type { AgentConfig } from "../config/defaults.js";
import { errors } from "../errors.js";
import { exitWhenIdle } from "./idle-exit.js";
import { openParent, UnsafePathError } from "../plaintext/safe-path.js";

/** The first fd systemd passes (SD_LISTEN_FDS_START). */
const LISTEN_FD = 3;

/**
 * The socket systemd passed, if this process was socket-activated: sd_listen_fds(3)'s
 * check (LISTEN_PID is this process), and the variables removed so that no child
 * (systemctl) takes them for its own.
 *
 * @throws AgentError usage when systemd passed more than one socket
 */
function inheritedSocket(env: NodeJS.ProcessEnv = process.env): { fd: number } | undefined {
  const pid = env.LISTEN_PID;
  const fds = env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (pid !== String(process.pid) || fds === undefined) return undefined;
  if (fds !== "1") throw errors.usage([`systemd passed ${fds} sockets; nixseal-agent.socket listens on one`], { hints: ["install the units again: nixseal-agent install"] });
  return { fd: LISTEN_FD };
}

function bindPath(socket: string): void {
  const dir = dirname(socket);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw errors.plantedSymlink([dir]);
  // one that another user made stays theirs (they could swap the socket): refuse it
  const uid = process.geteuid?.() ?? 0;
  if (st.uid !== uid) throw errors.socketDir([dir, st.uid]);
  chmodSync(dir, 0o700);
  // and every directory above it root's alone, or its owner could move ours away
  try {
    openParent(socket, false)?.dir.close();
  } catch (err) {
    if (err instanceof UnsafePathError) throw errors.socketPath([socket, err.message]);
    throw err;
  }
  try {
    if (lstatSync(socket).isSocket()) unlinkSync(socket); // stale from a crash
  } catch {
    // none
  }
}

function listen(server: Server, where: { fd: number } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(where, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Serves until SIGTERM/SIGINT, or (socket-activated) until idle; resolves when closed. */
export async function serve(config: AgentConfig, log: (line: string) => void): Promise<void> {
  const inherited = inheritedSocket();
  const { buildAgent } = await import("./app.js");
  const app = await buildAgent({ config, log });
  await app.ready();
  if (inherited) {
    await listen(app.server, inherited);
  } else {
    bindPath(config.socket);
    // made 0600 from the start (no moment with a looser mode), and chmod for certainty
    const umask = process.umask(0o177);
    try {
      await listen(app.server, { path: config.socket });
    } finally {
      process.umask(umask);
    }
    chmodSync(config.socket, 0o600);
  }
  const idleMs = inherited ? config.idleExitSeconds * 1000 : 0;
  log(inherited ? `serving on ${config.socket} (socket from systemd${idleMs ? `, exits after ${config.idleExitSeconds} s idle` : ""})` : `listening on ${config.socket}`);
  await new Promise<void>((resolve) => {
    let closing = false;
    // Stop accepting, let requests in flight finish (idle keep-alive connections are
    // closed), then Fastify's own close.
    const close = (): void => {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((done) => (app.server.listening ? app.server.close(() => done()) : done()));
      app.server.closeIdleConnections();
      void closed.then(() => app.close()).then(() => resolve());
    };
    if (idleMs > 0) {
      exitWhenIdle(app.server, idleMs, () => {
        log(`no connection for ${config.idleExitSeconds} s: exiting (the socket starts the agent again on the next connection)`);
        close();
      });
    }
    process.once("SIGTERM", close);
    process.once("SIGINT", close);
  });
}

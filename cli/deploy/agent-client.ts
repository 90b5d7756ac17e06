// HTTP to the host agent's unix socket, carried inside the SSH connection
// (direct-streamlocal@openssh.com): the agent opens no network port.
import { request } from "node:http";
import type { Duplex } from "node:stream";
import type { NodeSSH } from "node-ssh";
import { AGENT_ROUTES, HOST_PATHS, NixsealError, type ErrorBody } from "../../core/index.js";
import { rawClient, whileConnected } from "./remote.js";

/** How a refused request reads in a report. */
const ACTIONS: Record<string, string> = {
  [AGENT_ROUTES.stage]: "stage the bundle",
  [AGENT_ROUTES.check]: "check the bundle",
  [AGENT_ROUTES.activate]: "activate the new secrets",
  [AGENT_ROUTES.rollback]: "roll secrets back",
  [AGENT_ROUTES.status]: "report its status",
};

/** A small client for the agent API on one host. */
export class AgentClient {
  private readonly ssh: NodeSSH;
  private readonly hostName: string;
  private readonly socketPath: string;

  constructor(ssh: NodeSSH, hostName: string, socketPath: string = HOST_PATHS.socket) {
    this.ssh = ssh;
    this.hostName = hostName;
    this.socketPath = socketPath;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  post<T = unknown>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>("POST", path, body);
  }

  /** Opens a forwarded stream to the socket. */
  private openStream(): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      try {
        rawClient(this.ssh).openssh_forwardOutStreamLocal(this.socketPath, (err, ch) => {
          if (err) {
            reject(
              new NixsealError("NIXSEAL_ERR_DEPLOY_AGENT", `host "${this.hostName}": the nixseal agent does not answer on ${this.socketPath} (${err.message})`, {
                cause: err,
                hints: [`install and start it on the host: "nixseal-agent install" (see docs/agent.md)`],
              }),
            );
          } else resolve(ch as unknown as Duplex);
        });
      } catch (err) {
        reject(err);
      }
    });
  }

  /**
   * One request; a non-2xx answer becomes a NixsealError carrying the agent's code and
   * message (the agent never puts a value in them).
   */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const stream = await this.openStream();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const { status, text } = await whileConnected(this.ssh, new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          method,
          path,
          host: "nixseal-agent",
          createConnection: () => stream as never,
          headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("error", (err) =>
        reject(new NixsealError("NIXSEAL_ERR_DEPLOY_AGENT", `host "${this.hostName}": agent ${method} ${path} failed: ${err.message}`, { cause: err })),
      );
      req.end(payload);
    }), `agent ${method} ${path}`);
    stream.destroy();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (status < 200 || status >= 300) {
      const e = (json ?? {}) as Partial<ErrorBody>;
      throw new NixsealError(e.code ?? "NIXSEAL_ERR_DEPLOY_AGENT", `host "${this.hostName}": the agent refused to ${ACTIONS[path] ?? `${method} ${path}`}: ${e.message ?? `HTTP ${status}`}`, {
        hints: e.hints ?? [],
      });
    }
    return json as T;
  }
}

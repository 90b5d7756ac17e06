// The one shared decorator of the API: the agent's config and operations, so routes
// stay thin and tests can build the app over temp dirs.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { AgentConfig } from "../../config/defaults.js";
import { activate, check, rollback, stage } from "../../generations/operations.js";
import { readStateFile } from "../../status/state-file.js";
import { collectStatus } from "../../status/host-status.js";

interface AgentService {
  config: AgentConfig;
  startedAt: number;
  /** requireUnits: every unit the bundle names must exist here (a deploy without a config). */
  stage: (dir: string, requireUnits?: boolean) => ReturnType<typeof stage>;
  /** What stage would say, storing nothing (deploy --dry-run). */
  check: (dir: string, opts: { nextSystem?: string; requireUnits?: boolean }) => ReturnType<typeof check>;
  /** nextSystem: the digest of the system about to be built for this bundle (deploy with a config). */
  activate: (generation: number, nextSystem?: string) => ReturnType<typeof activate>;
  rollback: () => ReturnType<typeof rollback>;
  status: () => ReturnType<typeof collectStatus>;
  runs: () => { ok: number; failed: number };
}

declare module "fastify" {
  interface FastifyInstance {
    agent: AgentService;
  }
}

export const agentStatePlugin = fp(
  async (app: FastifyInstance, opts: { config: AgentConfig }) => {
    const { config } = opts;
    app.decorate("agent", {
      config,
      startedAt: Date.now(),
      stage: (dir: string, requireUnits?: boolean) => stage(config, dir, { requireUnits }),
      check: (dir: string, opts: { nextSystem?: string; requireUnits?: boolean }) => check(config, dir, opts),
      activate: (generation: number, nextSystem?: string) => activate(config, generation, "activate", nextSystem),
      rollback: () => rollback(config),
      status: () => collectStatus(config),
      runs: () => readStateFile(config.stateDir).activations,
    } satisfies AgentService);
  },
  { name: "nixseal-agent-state" },
);

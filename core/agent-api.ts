// The host agent's API on its unix socket (HOST_PATHS.socket): the routes, and every
// request and reply body. One definition: host-agent/api/ answers with these types and
// cli/deploy/ reads them. Types only, besides the route names: nothing here costs the
// agent's boot path anything. Values never appear in a reply: names, owners, modes,
// versions, ciphertext hashes and error codes only.

/** The routes, by what they do. */
export const AGENT_ROUTES = Object.freeze({
  health: "/health",
  status: "/status",
  metrics: "/metrics",
  stage: "/stage",
  activate: "/activate",
  rollback: "/rollback",
});

/** GET /health: liveness plus the current generation. */
export interface HealthReply {
  ok: true;
  status: "ok";
  current: number | null;
  uptimeSeconds: number;
}

/** The last restore, activation, rollback or import on this host. */
export interface LastRun {
  action: "restore" | "activate" | "rollback" | "import";
  generation: number | null;
  /** The run directory it made live (null when it failed before). */
  runGeneration: string | null;
  at: string;
  ok: boolean;
  /** Secrets that failed. */
  failed: number;
  durationMs: number;
  error?: { code: string; message: string };
}

/** One secret of the current generation (never its value). */
export interface SecretStatus {
  name: string;
  version: number;
  sha256: string;
  owner: string;
  group: string;
  mode: string;
  /** The live file (through runDir/current). */
  file: string;
  /** Where NixOps users find it. */
  keysPath: string;
  /** Extra link, if the secret has one. */
  path?: string;
  restartUnits: string[];
  reloadUnits: string[];
  /** The file is in the live run generation. */
  present: boolean;
  /** Last result; ok is undefined when this generation never ran here. */
  ok?: boolean;
  code?: string;
  error?: string;
  hints?: string[];
}

export interface GenerationStatus {
  generation: number;
  state: "current" | "previous" | "pending" | "old" | "damaged";
  id?: string;
  host?: string;
  createdAt?: string;
  secrets?: number;
}

/** What holds the run dir: the agent writes plaintext only to a mount of its own that never swaps. */
export interface MemoryFsStatus {
  type: "tmpfs" | "ramfs" | "other" | "missing";
  /** Where the filesystem holding the run dir is mounted. */
  mountPoint?: string;
  /** The run dir is that mount point itself (not a directory on a shared tmpfs). */
  isMountPoint: boolean;
  /** ramfs, or a tmpfs mounted noswap. */
  noswap: boolean;
}

/** GET /status, and `nixseal-agent status --json`: what the host runs, read from disk. */
export interface StatusReport {
  host: string | null;
  current: number | null;
  previous: number | null;
  runGeneration: string | null;
  runDir: string;
  keysDir: string;
  memoryFs: MemoryFsStatus;
  generations: GenerationStatus[];
  lastRun: LastRun | null;
  secrets: SecretStatus[];
  /** The rendered templates of the current generation, in the same shape (sha256: of the template text); absent from older agents. */
  templates?: SecretStatus[];
}

/** POST /stage: an uploaded bundle dir on the host. */
export interface StageRequest {
  dir: string;
}

/** The reply to /stage: the pending generation that holds the checked bundle. */
export interface StageReply {
  /** The pending generation (an existing one when the same bundle is already stored). */
  generation: number;
  /** The bundle's content id. */
  id: string;
  /** True when an identical bundle was already stored as `generation`. */
  existing: boolean;
  secrets: Array<{ name: string; version: number; sha256: string; owner: string; group: string; mode: string }>;
  /** Problems that did not stop it (an identity file that was skipped). */
  warnings: string[];
}

/** POST /activate: make a stored generation live. */
export interface ActivateRequest {
  generation: number;
  /**
   * Deploy with a config: the digest of the nixseal-secrets.json it installed, which
   * the rebuild right after builds the system for; the agent then checks the bundle
   * against it instead of the running system's.
   */
  nextSystem?: string;
}

/** The units restarted and reloaded after a switch. */
export interface UnitActions {
  restarted: string[];
  reloaded: string[];
  /** Set when a systemctl call failed (the switch itself stands). */
  error?: string;
}

/** The reply to /activate and /rollback: results per secret (names and error codes only). */
export interface ActivationReply {
  /** Every secret is in place. */
  ok: boolean;
  generation: number;
  runGeneration: string;
  changed: string[];
  units: UnitActions;
  pruned: number[];
  warnings: string[];
  secrets: Array<{ name: string; ok: boolean; changed: boolean; code?: string; error?: string }>;
}

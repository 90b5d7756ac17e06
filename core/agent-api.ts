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
  check: "/check",
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
  /** Absent: the owner's primary group. */
  group?: string;
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
  /**
   * Refuse when a unit the bundle's secrets restart or reload does not exist on the host
   * (a deploy without a config, which could not add it).
   */
  requireUnits?: boolean;
}

/** What systemd on the host says of a unit a secret restarts or reloads. */
export interface UnitState {
  unit: string;
  /** LoadState is "loaded": the unit exists on this host. */
  found: boolean;
  /** systemd's LoadState (loaded, not-found, masked, …) and ActiveState (active, inactive, failed, …). */
  loadState: string;
  activeState: string;
}

/** The reply to /stage: the pending generation that holds the checked bundle. */
export interface StageReply {
  /** The pending generation (an existing one when the same bundle is already stored). */
  generation: number;
  /** The bundle's content id. */
  id: string;
  /** True when an identical bundle was already stored as `generation`. */
  existing: boolean;
  secrets: Array<{ name: string; version: number; sha256: string; owner: string; group?: string; mode: string }>;
  /** Problems that did not stop it (an identity file that was skipped). */
  warnings: string[];
  /** Every unit the bundle's secrets restart or reload, as systemd knows it now; absent from older agents. */
  units?: UnitState[];
}

/** POST /check: what /stage checks, without storing anything (deploy --dry-run). */
export interface CheckRequest {
  dir: string;
  /** As for /activate: the digest of the system the deploy's rebuild builds next. */
  nextSystem?: string;
  /** As for /stage. */
  requireUnits?: boolean;
}

/** One reason a bundle would not stage or activate (names and codes only). */
export interface BundleProblem {
  code: string;
  message: string;
  secret?: string;
  hints?: string[];
}

/** The reply to /check: every problem at once, and the units the bundle names. */
export interface CheckReply {
  ok: boolean;
  /** The bundle's content id, when its manifest could be read. */
  id: string | null;
  problems: BundleProblem[];
  units: UnitState[];
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

/**
 * One restart or reload after a switch: ok, failed (systemctl's complaint in error),
 * not-found (no such unit on the host: nothing was run) or not-running (try-restart
 * leaves a stopped unit stopped).
 */
export interface UnitAction {
  unit: string;
  action: "restart" | "reload";
  result: "ok" | "failed" | "not-found" | "not-running";
  error?: string;
}

/** The units restarted and reloaded after a switch. */
export interface UnitActions {
  restarted: string[];
  reloaded: string[];
  /** Each unit's result, in the order run; absent from older agents. */
  results?: UnitAction[];
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

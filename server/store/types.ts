// What the server keeps, whatever holds it: the embedded file store (one process, one
// directory) or PostgreSQL (several replicas). Both pass the same tests
// (test/server/store.test.ts and the API tests run against each). Only ciphertext,
// manifests, public keys and audit records ever reach a store; never a value or a token.
import type { BundleManifest } from "../../core/index.js";
import type { BundleSignature } from "../../core/bundle-signing.js";
import type { FleetState } from "../../core/schema/fleet.js";

/** The fleet state last pushed, and by whom. */
export interface StoredFleet {
  state: FleetState;
  pushedAt: string;
  by: string;
}

/** Which bundle a host should run: the one pushed last for it. */
export interface BundleHead {
  id: string;
  sequence: number;
  pushedAt: string;
}

/** A bundle as stored and served: the manifest plus the bytes of every file it names. */
export interface StoredBundle extends BundleHead {
  host: string;
  manifest: BundleManifest;
  /** File name (as in the manifest) to its ciphertext. */
  files: Map<string, Buffer>;
  /** The operator's signature over the manifest, when the push carried one. */
  signature?: BundleSignature;
}

/** The last bundle a host fetched. */
export interface FetchRecord {
  id: string;
  sequence: number;
  at: string;
}

/** One line of the audit log. Never a value, a token or a request body. */
export interface AuditEvent {
  at: string;
  /** `token`, `admin:NAME`, `host:NAME`, or `unknown` for a refused request. */
  actor: string;
  action: "push-fleet" | "push-bundle" | "fetch" | "refused" | "login";
  host?: string;
  bundle?: string;
  sequence?: number;
  /** Why a request was refused, or a short fact about the action (never request data). */
  detail?: string;
  /** The client's address as the server saw it. */
  remote?: string;
}

export interface AuditRecord extends AuditEvent {
  /** Position in the log: grows by one per event (per store). */
  seq: number;
}

export interface AuditQuery {
  host?: string;
  /** Only events before this position (paging back). */
  before?: number;
  limit: number;
}

/** A bundle's sequence is not above the host's head: someone pushed first, or a replay. */
export class SequenceConflict extends Error {
  readonly host: string;
  readonly head: number;
  readonly sequence: number;
  constructor(host: string, head: number, sequence: number) {
    super(`host ${host} is at sequence ${head}`);
    this.host = host;
    this.head = head;
    this.sequence = sequence;
  }
}

/** A different bundle already has this id. */
export class IdConflict extends Error {
  readonly host: string;
  readonly id: string;
  constructor(host: string, id: string) {
    super(`host ${host} already has a different bundle ${id}`);
    this.host = host;
    this.id = id;
  }
}

/** A checked bundle to store, with the sequence the operator signed. */
export interface BundleToSave {
  manifest: BundleManifest & { sequence: number };
  /** File name (as in the manifest) to its ciphertext. */
  files: Map<string, Buffer>;
  signature: BundleSignature | undefined;
}

/** What became of one bundle of a save: stored (new, or the same content again), or refused. */
export type SaveOutcome = { ok: true; created: boolean; head: BundleHead } | { ok: false; error: SequenceConflict | IdConflict };

/** Called when a host's head changes (host and its new sequence), or with "*" after a gap (reconnect: recheck all). */
export type BundleListener = (host: string, sequence: number) => void;

export interface Store {
  readonly kind: "file" | "postgres";
  /** Claims made before this time may be forgotten (the file store after the machine went down): requests signed earlier are refused. */
  readonly claimsSinceMs: number;
  init(): Promise<void>;
  close(): Promise<void>;

  fleet(): Promise<StoredFleet | undefined>;
  putFleet(state: FleetState, by: string): Promise<StoredFleet>;

  /**
   * Stores checked bundles, each made its host's head in one step: readers see the
   * previous head or the new one, whole. All that pass are stored together (one
   * fdatasync, one transaction) before this resolves; each bundle's sequence must be
   * above its host's head (and above an earlier bundle of the same host in this call).
   *
   * @returns one outcome per item, in order: a refusal (SequenceConflict, IdConflict) holds back no other item
   */
  saveBundles(items: BundleToSave[]): Promise<SaveOutcome[]>;
  head(host: string): Promise<BundleHead | undefined>;
  heads(): Promise<Map<string, BundleHead>>;
  readBundle(host: string, id: string): Promise<StoredBundle | undefined>;
  /** The host's head bundle when its sequence is above `after` (default: any); undefined when there is none such. */
  readLatest(host: string, after?: number): Promise<StoredBundle | undefined>;

  /** Records the host's last fetch and its audit event (written before this resolves, flushed moments later). */
  recordFetch(host: string, fetch: FetchRecord, event: AuditEvent): Promise<void>;
  fetches(): Promise<Map<string, FetchRecord>>;

  /** Appends events; durable ones (pushes) are on disk when this resolves. */
  audit(events: AuditEvent[], durable?: boolean): Promise<void>;
  auditLog(query: AuditQuery): Promise<AuditRecord[]>;

  /** Records key until expiresAt; false when it is already there (a replayed nonce, a used code). */
  claimOnce(key: string, expiresAtMs: number): Promise<boolean>;
  /** Removes key; true when it was there and not expired (a one-time code redeemed). */
  takeOnce(key: string): Promise<boolean>;
  /** Whether key is there and not expired (a session). */
  holds(key: string): Promise<boolean>;

  /** Subscribes to head changes, from this process and (PostgreSQL) every replica. */
  onBundle(listener: BundleListener): () => void;
}

// What the fleet looks like from the server: each host of the pushed fleet state, the
// bundle it should run (its head) against the one it last fetched and when, and the
// refused attempts of late. GET /v1/fleet answers it as JSON, the fleet page as HTML,
// `nixseal fleet` prints it.
import { parseSshPublicKey, sshKeyFingerprint } from "../core/keys/ssh-public.js";
import type { AuditRecord, BundleHead, FetchRecord, Store } from "./store/types.js";

/** Where a host stands: runs its head, runs an older one, never fetched, or has nothing to run. */
export type HostState = "current" | "behind" | "never-fetched" | "no-bundle";

interface HostReport {
  name: string;
  /** SHA256 fingerprint of its pinned host key. */
  fingerprint: string;
  head?: BundleHead;
  lastFetch?: FetchRecord;
  state: HostState;
  /** Refused requests naming this host among the recent ones. */
  refused: number;
}

export interface FleetReport {
  fleet: { pushedAt: string; by: string; admins: Array<{ name: string; fingerprint: string }> } | null;
  hosts: HostReport[];
  /** The most recent refused requests, newest first. */
  refused: AuditRecord[];
}

/** How many recent audit events the report reads for refusals. */
const RECENT = 2000;

/** Builds the report from the store. */
export async function fleetReport(store: Store): Promise<FleetReport> {
  const [fleet, heads, fetches, recent] = await Promise.all([store.fleet(), store.heads(), store.fetches(), store.auditLog({ limit: RECENT })]);
  const refused = recent.filter((e) => e.action === "refused");
  const refusedBy = new Map<string, number>();
  for (const e of refused) if (e.host) refusedBy.set(e.host, (refusedBy.get(e.host) ?? 0) + 1);
  const hosts: HostReport[] = Object.entries(fleet?.state.hosts ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, h]) => {
      const head = heads.get(name);
      const lastFetch = fetches.get(name);
      const state: HostState = !head ? "no-bundle" : !lastFetch ? "never-fetched" : lastFetch.sequence >= head.sequence ? "current" : "behind";
      return { name, fingerprint: sshKeyFingerprint(parseSshPublicKey(h.hostKey)), ...(head ? { head } : {}), ...(lastFetch ? { lastFetch } : {}), state, refused: refusedBy.get(name) ?? 0 };
    });
  return {
    fleet: fleet ? { pushedAt: fleet.pushedAt, by: fleet.by, admins: fleet.state.admins.map((a) => ({ name: a.name, fingerprint: sshKeyFingerprint(parseSshPublicKey(a.key)) })) } : null,
    hosts,
    refused: refused.slice(0, 20),
  };
}

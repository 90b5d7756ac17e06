// Fetching this host's bundle from a nixseal server: each request signed with the
// host's own SSH host key (no token on the host), each reply verified (pull-verify.ts)
// before anything is handed on. fetchLatest asks once; follow long-polls for a bundle
// with a sequence above the one the host runs and hands each one to `install`, until
// the signal aborts, retrying with backoff when the server or the network is away.
import { readFileSync } from "node:fs";
import type { BundleManifest } from "../../core/schema/bundle.js";
import { NixsealError } from "../../core/errors.js";
import { requestJson, type RequestSigner } from "../../core/http-json.js";
import { parseSshPrivateKey } from "../../core/keys/ssh-private.js";
import type { SshPublicKey } from "../../core/keys/ssh-public.js";
import { errors } from "../errors.js";
import { verifyReply } from "./verify.js";

/** Largest reply pull reads (a server cannot make the agent buffer without bound). */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;
/** How long a plain fetch may take, reply included. */
const FETCH_TIMEOUT_MS = 120_000;
/** How long a long-poll asks the server to hold (under the usual 60 s of proxies). */
const DEFAULT_WAIT_SECONDS = 50;
const MAX_BACKOFF_MS = 60_000;

export interface PullTarget {
  server: URL;
  host: string;
  signer: RequestSigner;
  /** Keys whose bundle signatures count, or "server" (--trust-server). */
  trusted: SshPublicKey[] | "server";
}

export interface VerifiedBundle {
  manifest: BundleManifest;
  files: Map<string, Buffer>;
}

/**
 * The host's signer: its first readable SSH host key (ssh-ed25519 first, as ordered in
 * identityPaths), which must be the key nixseal.json pins for the host.
 *
 * @throws AgentError noHostKey
 */
export async function hostSigner(host: string, identityPaths: readonly string[]): Promise<RequestSigner> {
  const problems: string[] = [];
  for (const path of identityPaths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") problems.push(`${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
      continue;
    }
    try {
      return { key: await parseSshPrivateKey(text, path), principal: { kind: "host", host } };
    } catch (err) {
      problems.push(err instanceof NixsealError ? err.message : `${path}: not a usable private key`);
    }
  }
  throw errors.noHostKey([identityPaths.join(", ") + (problems.length ? ` (${problems.join("; ")})` : "")]);
}

/** GET the host's latest bundle, verified. */
export async function fetchLatest(t: PullTarget): Promise<VerifiedBundle> {
  const reply = await requestJson(t.server, `v1/hosts/${t.host}/bundles/latest`, { signer: t.signer, timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_REPLY_BYTES });
  return verifyReply(t.server.origin, t.host, reply, t.trusted);
}

interface FollowOptions {
  /** The highest sequence the host runs now; asked again after each install. */
  after: () => number;
  /** Installs a verified bundle (refusing a replay or a downgrade by throwing). */
  install: (b: VerifiedBundle) => Promise<void>;
  /** Told of every failure; the loop goes on after a backoff. */
  onError: (err: unknown, retryInMs: number) => void;
  signal: AbortSignal;
  waitSeconds?: number;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Long-polls until the signal aborts. */
export async function follow(t: PullTarget, o: FollowOptions): Promise<void> {
  const wait = o.waitSeconds ?? DEFAULT_WAIT_SECONDS;
  let backoff = 1000;
  while (!o.signal.aborted) {
    try {
      const reply = await requestJson(t.server, `v1/hosts/${t.host}/bundles/latest?after=${o.after()}&wait=${wait}`, {
        signer: t.signer,
        timeoutMs: (wait + 30) * 1000,
        maxBytes: MAX_REPLY_BYTES,
        signal: o.signal,
      });
      if (reply !== null) await o.install(await verifyReply(t.server.origin, t.host, reply, t.trusted));
      backoff = 1000;
    } catch (err) {
      if (o.signal.aborted) break;
      // Jitter, so hosts cut off together do not come back together.
      const delay = Math.round(backoff * (0.5 + Math.random() / 2));
      o.onError(err, delay);
      await pause(delay, o.signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}

// Who a request is from. Three ways in:
//   - a host: a NixsealSig header (core/signed-request.ts) signed with that host's SSH
//     host key, as the pushed fleet state pins it;
//   - an operator with an admin key: a NixsealSig header `as=admin`, signed with a key of
//     the fleet state's admins (or of --admin-keys, which lets the first push in);
//   - an operator with the bearer token the server was started with (automation).
// A signature is good for one request: its time must be within the allowed skew of the
// server's clock and its nonce new (claimed in the store, so across replicas too).
// Every failure before the signature checks out gets the same answer whether the host
// exists or not, and costs the same: an unknown key is verified against a stand-in key.
import { createHash, generateKeyPairSync, timingSafeEqual, verify } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { parseSshPublicKey, sshKeyFingerprint, type SshPublicKey } from "../core/keys/ssh-public.js";
import { verifySshsig } from "../core/keys/sshsig.js";
import { REQUEST_AUTH_SCHEME, REQUEST_NAMESPACE, parseRequestAuth, type RequestAuth } from "../core/signed-request.js";
import { serverErrors } from "./errors.js";
import type { Store, StoredFleet } from "./store/types.js";

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** A token kept only as its digest; compared in constant time through it. */
class Token {
  private readonly hash: Buffer;
  constructor(token: string) {
    this.hash = digest(token);
  }
  /** Constant-time comparison with a presented token. */
  matches(presented: string): boolean {
    return timingSafeEqual(this.hash, digest(presented));
  }
}

/** Who a request was authenticated as. `actor` is how the audit log names it. */
export type Principal = { kind: "token"; actor: "token" } | { kind: "admin"; name: string; actor: string } | { kind: "host"; host: string; actor: string };

/** Why a request was refused, for the audit log and the metrics (never sent to the client). */
type RefusalReason = "none" | "malformed" | "bad-token" | "stale" | "unknown-key" | "namespace" | "algorithm" | "weak-key" | "mismatch" | "replayed";

/** A refused request: the error to answer and the reason to record. */
export class Refusal extends Error {
  readonly reason: RefusalReason;
  readonly error: Error;
  constructor(reason: RefusalReason, error: Error) {
    super(reason);
    this.reason = reason;
    this.error = error;
  }
}

interface FleetIndex {
  hosts: Map<string, SshPublicKey>;
  admins: Map<string, string>;
}

const wireKey = (k: SshPublicKey) => Buffer.from(k.wire).toString("base64");

interface AuthenticatorOptions {
  store: Store;
  operatorToken?: string;
  /** Admin keys accepted besides the fleet state's (name and key line). */
  bootstrapAdmins: Array<{ name: string; key: string }>;
  /** Largest accepted difference between a request's time and the server's clock. */
  maxSkewSeconds: number;
}

/** Checks requests against the fleet state in the store. */
export class Authenticator {
  private readonly operator: Token | undefined;
  private readonly bootstrap: Map<string, string>;
  private readonly index = new WeakMap<StoredFleet, FleetIndex>();
  private readonly standIn = generateKeyPairSync("ed25519");

  private readonly opts: AuthenticatorOptions;

  constructor(opts: AuthenticatorOptions) {
    this.opts = opts;
    this.operator = opts.operatorToken === undefined ? undefined : new Token(opts.operatorToken);
    this.bootstrap = new Map(opts.bootstrapAdmins.map((a) => [wireKey(parseSshPublicKey(a.key)), a.name]));
  }

  private fleetIndex(fleet: StoredFleet | undefined): FleetIndex {
    if (!fleet) return { hosts: new Map(), admins: new Map() };
    let ix = this.index.get(fleet);
    if (!ix) {
      ix = {
        hosts: new Map(Object.entries(fleet.state.hosts).map(([name, h]) => [name, parseSshPublicKey(h.hostKey)])),
        admins: new Map(fleet.state.admins.map((a) => [wireKey(parseSshPublicKey(a.key)), a.name])),
      };
      this.index.set(fleet, ix);
    }
    return ix;
  }

  /** The admin name of a public key (fleet state or --admin-keys), or undefined. */
  async adminName(key: SshPublicKey): Promise<string | undefined> {
    const w = wireKey(key);
    return this.fleetIndex(await this.opts.store.fleet()).admins.get(w) ?? this.bootstrap.get(w);
  }

  /**
   * Authenticates a request from its headers only (the body is checked against the
   * signed hash when it is read).
   *
   * @returns the principal and, for a signed request, the body hash it signed
   * @throws Refusal
   */
  async authenticate(req: FastifyRequest): Promise<{ principal: Principal; bodySha256?: string }> {
    const header = req.headers.authorization;
    const generic = () => serverErrors.unauthorized(["the request's signature or token is not accepted"]);
    if (typeof header !== "string") throw new Refusal("none", serverErrors.unauthorized(["the request has no credentials (a signature or a bearer token)"]));
    if (header.startsWith("Bearer ")) {
      const presented = /^Bearer ([\x21-\x7e]{1,4096})$/.exec(header)?.[1];
      if (presented === undefined || !this.operator?.matches(presented)) throw new Refusal("bad-token", generic());
      return { principal: { kind: "token", actor: "token" } };
    }
    if (!header.startsWith(`${REQUEST_AUTH_SCHEME} `)) throw new Refusal("malformed", generic());
    const auth = parseRequestAuth(header, req.method, req.url);
    if (!auth) throw new Refusal("malformed", generic());
    const now = Date.now();
    const skew = this.opts.maxSkewSeconds;
    if (Math.abs(now / 1000 - auth.time) > skew || auth.time * 1000 < this.opts.store.claimsSinceMs - 1000) {
      throw new Refusal("stale", serverErrors.stale([new Date(auth.time * 1000).toISOString(), skew]));
    }
    const principal = await this.principalOf(auth);
    const verdict = principal ? verifySshsig(auth.sig, REQUEST_NAMESPACE, auth.message) : this.standInVerify(auth);
    if (!principal) throw new Refusal("unknown-key", generic());
    if (verdict !== "ok") throw new Refusal(verdict, generic());
    const fp = sshKeyFingerprint(auth.sig.publicKey);
    if (!(await this.opts.store.claimOnce(`nonce:${fp}:${auth.nonce}`, (auth.time + skew + 1) * 1000))) {
      throw new Refusal("replayed", serverErrors.replayed([]));
    }
    return { principal, bodySha256: auth.bodySha256 };
  }

  private async principalOf(auth: RequestAuth): Promise<Principal | undefined> {
    const key = auth.sig.publicKey;
    if (auth.principal.kind === "host") {
      const host = auth.principal.host;
      const pinned = this.fleetIndex(await this.opts.store.fleet()).hosts.get(host);
      if (!pinned || !Buffer.from(pinned.wire).equals(Buffer.from(key.wire))) return undefined;
      return { kind: "host", host, actor: `host:${host}` };
    }
    const name = await this.adminName(key);
    return name === undefined ? undefined : { kind: "admin", name, actor: `admin:${name}` };
  }

  /** The work of a real verification, for a key nobody pinned, so timing tells nothing. */
  private standInVerify(auth: RequestAuth): "mismatch" {
    verify(null, auth.message, this.standIn.publicKey, Buffer.alloc(64));
    return "mismatch";
  }
}

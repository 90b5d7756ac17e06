// Turns a generation's ciphertexts into plaintext files in a fresh directory on the
// memory filesystem. Each secret is decrypted whole in memory and written only after
// it authenticated (many secrets: partly on a worker thread, parallel-decrypt.ts); files
// are created O_EXCL|O_NOFOLLOW, so nothing is ever written through a planted symlink;
// a full filesystem removes the new directory whole.
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { decrypt, type Identity } from "../../core/age/decrypt.js";
import { NixsealError } from "../../core/errors.js";
import type { BundleSecret } from "../../core/schema/bundle.js";
import { isPosixId, MAX_POSIX_ID } from "../../core/schema/limits.js";
import type { Accounts } from "./accounts.js";
import { readRegularFile, type BundleEntry, type TemplateEntry } from "../generations/bundle-dir.js";
import { renderFromDir } from "./templates.js";
import { errors, type AgentError } from "../errors.js";
import { MIN_PARALLEL, whyNot, type DecryptHelper, type DecryptResult } from "./parallel-decrypt.js";

/** What happened to one secret in one run. */
export interface SecretResult {
  name: string;
  ok: boolean;
  /** Content, owner, group or mode differ from the generation it replaces (or it is new). */
  changed: boolean;
  code?: string;
  error?: string;
  hints?: string[];
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The symlink name of the live generation inside runDir. */
export const CURRENT = "current";

/** The directory name `current` points at, if it is a symlink. */
export function currentRunName(runDir: string): string | undefined {
  try {
    return readlinkSync(join(runDir, CURRENT));
  } catch {
    return undefined;
  }
}

/**
 * Creates the directory for generation `gen`: `<gen>`, or `<gen>.<k>` when `<gen>` is
 * the live one (a second restore of the same generation). A leftover `<gen>` from an
 * interrupted run is removed; anything but a directory there is refused.
 */
function makeRunGenerationDir(runDir: string, gen: number): string {
  const live = currentRunName(runDir);
  for (let k = 0; ; k++) {
    const name = k === 0 ? String(gen) : `${gen}.${k}`;
    if (name === live) continue;
    const dir = join(runDir, name);
    try {
      mkdirSync(dir, 0o700);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (!lstatSync(dir).isDirectory()) throw errors.plantedSymlink([dir]);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, 0o700);
    }
    return name;
  }
}

function writeWhole(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/** What the replaced generation held for a name: its ciphertext's (or template text's) hash, and a template's inputs. */
interface PreviousFile {
  sha256: string;
  uses?: readonly string[];
}

/**
 * Whether a file is the same as the one it replaces. Owner, group, mode and size come
 * from lstat; the bytes are the same when the ciphertext (for a template: its text and
 * every secret it uses) is the one the old generation had, which needs no read: the
 * hardened agent has no CAP_DAC_OVERRIDE and cannot read back a file it gave to another
 * owner (0400 caddy:caddy). Otherwise the old file is read and compared, where it can be.
 */
function sameAsBefore(oldDir: string | undefined, name: string, plaintext: Uint8Array, uid: number, gid: number, mode: number, sameSource: boolean): boolean {
  if (oldDir === undefined) return false;
  try {
    const file = join(oldDir, name);
    const st = lstatSync(file);
    if (!st.isFile() || st.uid !== uid || st.gid !== gid || (st.mode & 0o7777) !== mode || st.size !== plaintext.length) return false;
    if (sameSource) return true;
    const old = readRegularFile(file);
    const same = old.equals(plaintext);
    old.fill(0);
    return same;
  } catch {
    return false;
  }
}

function failure(name: string, e: NixsealError): SecretResult {
  return { name, ok: false, changed: false, code: e.code, error: e.message, hints: e.hints };
}

interface MaterializeOptions {
  runDir: string;
  generation: number;
  entries: BundleEntry[];
  identities: Identity[];
  accounts: Accounts;
  /** Skip secrets that fail (boot restore); otherwise the first failure aborts, nothing changed. */
  partial: boolean;
  /**
   * With partial: a secret that does not fit is skipped too, so the rest still lands
   * ("skip"), or the whole directory is dropped with a noSpace error ("abort", the
   * default), so the caller can try a generation that fits whole.
   */
  noSpace?: "skip" | "abort";
  /** A decrypt worker to share the work with (many secrets on a multi-core host). */
  helper?: DecryptHelper;
  /** Templates to render from the secrets once they are written (results follow the secrets'). */
  templates?: readonly TemplateEntry[];
  /** The files of the generation being replaced, by name (to tell "changed" without reading them). */
  previous?: ReadonlyMap<string, PreviousFile>;
  /** Plaintexts already decrypted (an opened seal), by entry index: nothing is decrypted then. */
  plaintexts?: readonly Uint8Array[];
}

/** A secret that will be decrypted and written: where it is in the manifest, its owner and mode. */
interface Job {
  i: number;
  uid: number;
  gid: number;
  mode: number;
}

/**
 * Writes every secret of a generation into a new directory under runDir. Does not flip.
 *
 * @returns the new directory's name and one result per secret, in manifest order
 * @throws AgentError noSpace (directory removed), or the first secret's error when not partial
 */
export async function materialize(opts: MaterializeOptions): Promise<{ name: string; results: SecretResult[] }> {
  const live = currentRunName(opts.runDir);
  const oldDir = live === undefined ? undefined : join(opts.runDir, live);
  const name = makeRunGenerationDir(opts.runDir, opts.generation);
  const dir = join(opts.runDir, name);
  const templates = opts.templates ?? [];
  // Same source as the replaced generation: the same ciphertext, or template text and inputs.
  const prev = opts.previous ?? new Map<string, PreviousFile>();
  const sameCiphertext = (name: string, sha256: string): boolean => prev.get(name)?.sha256 === sha256;
  const sameSource = (i: number): boolean => {
    if (i < opts.entries.length) return sameCiphertext(opts.entries[i]!.secret.name, opts.entries[i]!.secret.sha256);
    const t = templates[i - opts.entries.length]!.template;
    const bySecret = new Map(opts.entries.map((e) => [e.secret.name, e.secret.sha256]));
    const p = prev.get(t.name);
    return p?.sha256 === t.sha256 && p.uses !== undefined && p.uses.join("\0") === t.uses.join("\0") && t.uses.every((u) => sameCiphertext(u, bySecret.get(u) ?? ""));
  };
  const results: SecretResult[] = new Array<SecretResult>(opts.entries.length + templates.length);
  // Results: the secrets in manifest order, then the templates.
  const nameOf = (i: number): string => (i < opts.entries.length ? opts.entries[i]!.secret.name : templates[i - opts.entries.length]!.template.name);
  const fail = (i: number, err: unknown): void => {
    const name = nameOf(i);
    const file = join(dir, name);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") {
      const e = errors.noSpace([opts.runDir, String(opts.generation)], { cause: err });
      if (!opts.partial || opts.noSpace !== "skip") throw e;
      results[i] = failure(name, errors.secretNoSpace([name, opts.runDir], { cause: err }));
      return;
    }
    // the directory is new and ours: anything already there was planted
    if (code === "EEXIST" || code === "ELOOP") throw errors.plantedSymlink([file], { cause: err });
    if (!opts.partial) throw err;
    // the boot restore keeps going: one secret's failure of any kind is that secret's
    results[i] = failure(name, err instanceof NixsealError ? err : errors.writeFailed([name, file, code ?? "unexpected error"], { cause: err }));
  };
  // Written only once whole and authenticated; zeroed here whatever happens, unless the
  // caller owns it (a seal's plaintexts: zeroed by the restore, which may write them
  // again after a fallback). A file that could not be finished is removed, so a secret
  // is there whole or not at all.
  const write = (job: Job, plaintext: Uint8Array, owned = true): void => {
    const s = { name: nameOf(job.i) };
    const file = `${dir}/${s.name}`; // no join per file: names are plain file names
    let created = false;
    try {
      const fd = openSync(file, CREATE_FLAGS, 0o600);
      created = true;
      try {
        writeWhole(fd, plaintext);
        fchmodSync(fd, job.mode); // before chown: root still owns it, no CAP_FOWNER needed
        fchownSync(fd, job.uid, job.gid);
      } finally {
        closeSync(fd);
      }
      results[job.i] = { name: s.name, ok: true, changed: !sameAsBefore(oldDir, s.name, plaintext, job.uid, job.gid, job.mode, sameSource(job.i)) };
    } catch (err) {
      if (created) rmSync(file, { force: true });
      fail(job.i, err);
    } finally {
      if (owned) plaintext.fill(0);
    }
  };
  const take = (job: Job, r: DecryptResult): void => {
    if ("why" in r) fail(job.i, errors.decrypt([nameOf(job.i), r.why]));
    else write(job, r.plaintext);
  };
  try {
    // Owners before any decryption: a secret that cannot be written is not decrypted.
    const jobs: Job[] = [];
    const blobs: Buffer[] = [];
    opts.entries.forEach((entry, i) => {
      try {
        if (entry.error || !entry.blob) throw entry.error ?? errors.internal([]);
        const { uid, gid } = resolveOwner(entry.secret, opts.accounts);
        jobs.push({ i, uid, gid, mode: parseInt(entry.secret.mode, 8) });
        blobs.push(entry.blob);
      } catch (err) {
        fail(i, err);
      }
    });
    const decryptHere = (blob: Uint8Array): Uint8Array => decrypt(blob, opts.identities);
    if (opts.plaintexts) {
      for (const job of jobs) write(job, opts.plaintexts[job.i]!, false);
    } else if (opts.helper && jobs.length >= MIN_PARALLEL) {
      await opts.helper.run(blobs, decryptHere, (k, r) => take(jobs[k]!, r));
    } else {
      for (let k = 0; k < jobs.length; k++) {
        let r: DecryptResult;
        try {
          r = { plaintext: decryptHere(blobs[k]!) };
        } catch (err) {
          r = { why: whyNot(err) };
        }
        take(jobs[k]!, r);
      }
    }
    templates.forEach((t, k) => {
      const i = opts.entries.length + k;
      let rendered: Buffer;
      try {
        const { uid, gid } = resolveOwner(t.template, opts.accounts);
        rendered = renderFromDir(t, dir, (secret) => results[opts.entries.findIndex((e) => e.secret.name === secret)]?.ok === true);
        write({ i, uid, gid, mode: parseInt(t.template.mode, 8) }, rendered);
      } catch (err) {
        fail(i, err);
      }
    });
    chmodSync(dir, 0o751); // UMask=0077 in the unit: set the traversal bit explicitly
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { name, results };
}

/**
 * The numeric owner and group of a secret.
 *
 * @throws AgentError badId, unknownOwner, unknownGroup
 */
export function resolveOwner(s: Pick<BundleSecret, "name" | "owner" | "group">, accounts: Accounts): { uid: number; gid: number } {
  // a stored generation skips the schema at boot: its numeric ids are bounded here too
  for (const id of [s.owner, s.group ?? s.owner]) if (/^[0-9]+$/.test(id) && !isPosixId(id)) throw errors.badId([s.name, id, MAX_POSIX_ID]);
  const uid = accounts.uid(s.owner);
  if (uid === undefined) throw errors.unknownOwner([s.name, s.owner]);
  // no group: the owner's primary group, as agenix and sops-nix default it
  const gid = s.group === undefined ? accounts.primaryGid(s.owner) : accounts.gid(s.group);
  if (gid === undefined) throw s.group === undefined ? errors.unknownOwner([s.name, s.owner]) : errors.unknownGroup([s.name, s.group]);
  return { uid, gid };
}

/** Decrypts one secret whole; a wrong key or a truncated/forged blob is one clean error. */
export function decryptSecret(name: string, blob: Uint8Array, identities: Identity[]): Uint8Array {
  try {
    return decrypt(blob, identities);
  } catch (err) {
    throw errors.decrypt([name, whyNot(err)], { cause: err }) as AgentError;
  }
}

import { randomBytes, randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { KEY_PAIR_KINDS, NixsealError, PASSWORD_HASH_KINDS, type GenerateSpec } from "../core/index.js";
import { sshEd25519KeyPair, wireguardKeyPair } from "./generate/key-pairs.js";
import { passwordHash } from "./generate/password-hashes.js";
import { readAll, type CliIo } from "./io.js";
import { canPrompt, promptHidden } from "./prompt.js";

type Encoding = "base64" | "hex" | "alnum";
const ENCODINGS: Encoding[] = ["base64", "hex", "alnum"];

/** How a command was told to get a value. Never from argv. */
export interface ValueOptions {
  fromFile?: string;
  generate?: string;
  encoding?: string;
  htpasswdUser?: string;
}

export type { GenerateSpec };
const KINDS: readonly string[] = [...KEY_PAIR_KINDS, ...PASSWORD_HASH_KINDS];

/** A value and what came with it: a key pair's public half, a hash's password. */
export interface Value {
  value: Buffer;
  generated?: GenerateSpec;
  public?: string;
  /** The generated password of a password hash (for the admins only). */
  password?: Buffer;
}

/**
 * Parses --generate BYTES [--encoding E], or --generate KIND [--htpasswd-user U].
 *
 * @throws NixsealError NIXSEAL_ERR_BAD_VALUE_SOURCE
 */
function parseGenerate(opts: ValueOptions): GenerateSpec | undefined {
  if (opts.generate === undefined) {
    if (opts.encoding !== undefined || opts.htpasswdUser !== undefined) {
      throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", `${opts.encoding !== undefined ? "--encoding" : "--htpasswd-user"} only goes with --generate`, { hints: ["e.g. --generate 32 --encoding hex, or --generate bcrypt --htpasswd-user alice"] });
    }
    return undefined;
  }
  if (KINDS.includes(opts.generate)) {
    if (opts.encoding !== undefined) throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", `--encoding goes with --generate BYTES, not with --generate ${opts.generate}`);
    if ((KEY_PAIR_KINDS as readonly string[]).includes(opts.generate)) {
      if (opts.htpasswdUser !== undefined) throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", `--htpasswd-user goes with --generate bcrypt or sha512-crypt`);
      return { kind: opts.generate as (typeof KEY_PAIR_KINDS)[number] };
    }
    if (opts.htpasswdUser !== undefined && !/^[^:\s]{1,64}$/.test(opts.htpasswdUser)) {
      throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", `--htpasswd-user ${JSON.stringify(opts.htpasswdUser)} is not an htpasswd user name`, { hints: ["1-64 characters, no colon or space"] });
    }
    return { kind: opts.generate as (typeof PASSWORD_HASH_KINDS)[number], ...(opts.htpasswdUser !== undefined ? { htpasswdUser: opts.htpasswdUser } : {}) };
  }
  if (opts.htpasswdUser !== undefined) throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", `--htpasswd-user goes with --generate bcrypt or sha512-crypt`);
  const bytes = Number(opts.generate);
  if (!/^[0-9]+$/.test(opts.generate) || bytes < 1 || bytes > 4096) {
    throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", `--generate wants a number of bytes from 1 to 4096 or one of ${KINDS.join(", ")}, not "${opts.generate}"`, {
      hints: ["e.g. --generate 32, --generate ssh-ed25519, --generate wireguard, --generate sha512-crypt"],
    });
  }
  const encoding = (opts.encoding ?? "base64") as Encoding;
  if (!ENCODINGS.includes(encoding)) {
    throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", `unknown --encoding "${opts.encoding}"`, { hints: [`use one of ${ENCODINGS.join(", ")}`] });
  }
  return { bytes, encoding };
}

/**
 * A fresh value by a generate spec: BYTES random bytes as base64 or hex, or BYTES
 * characters from [A-Za-z0-9] (alnum, uniformly chosen); a key pair (value: the
 * private key; public: its public half); a password hash (value: the hash; password:
 * the generated password).
 *
 * @param name - the secret's name (an SSH key's comment)
 */
function generateValue(spec: GenerateSpec, name: string): Value {
  if ("kind" in spec) {
    if (spec.kind === "ssh-ed25519") return { ...sshEd25519KeyPair(name), generated: spec };
    if (spec.kind === "wireguard") return { ...wireguardKeyPair(), generated: spec };
    return { ...passwordHash(spec.kind, "htpasswdUser" in spec ? spec.htpasswdUser : undefined), generated: spec };
  }
  if (spec.encoding === "alnum") {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const out = Buffer.alloc(spec.bytes);
    for (let i = 0; i < spec.bytes; i++) out[i] = alphabet.charCodeAt(randomInt(alphabet.length));
    return { value: out, generated: spec };
  }
  return { value: Buffer.from(randomBytes(spec.bytes).toString(spec.encoding)), generated: spec };
}

/**
 * Reads a value from exactly one source: --generate, --from-file, or stdin
 * (piped, or typed without echo on a terminal). An empty value is refused.
 *
 * @param fallback - a generate spec to use when no source is given (rotate of a generated secret)
 * @param usage - the command as the hint should show it, e.g. "secrets rotate db"
 * @param name - the secret's name (a generated SSH key's comment)
 */
export async function readValue(io: CliIo, opts: ValueOptions, fallback?: GenerateSpec, usage = "secrets add NAME --host H", name = "nixseal"): Promise<Value> {
  const spec = parseGenerate(opts);
  if (spec && opts.fromFile !== undefined) {
    throw new NixsealError("NIXSEAL_ERR_BAD_VALUE_SOURCE", "give the value one way: --generate or --from-file, not both");
  }
  let value: Buffer;
  if (spec ?? (opts.fromFile === undefined ? fallback : undefined)) {
    return generateValue((spec ?? fallback)!, name);
  } else if (opts.fromFile !== undefined) {
    const file = resolve(io.cwd, opts.fromFile);
    try {
      value = await readFile(file);
    } catch (err) {
      throw new NixsealError("NIXSEAL_ERR_NOT_FOUND", `cannot read --from-file ${opts.fromFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  } else if (io.stdin.isTTY) {
    if (!canPrompt(io)) throw noValue(usage);
    value = Buffer.from(await promptHidden(io, "value (input hidden, Enter to finish): "));
  } else {
    value = await readAll(io.stdin);
  }
  if (value.length === 0) throw noValue(usage, opts.fromFile);
  return { value };
}

function noValue(usage: string, fromFile?: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_EMPTY_VALUE", fromFile === undefined ? "no value given (stdin was empty)" : `--from-file ${fromFile} is empty`, {
    hints: [`pipe it on stdin: printf %s "$VALUE" | nixseal ${usage}`, `or: nixseal ${usage} --from-file FILE, or --generate BYTES`],
  });
}

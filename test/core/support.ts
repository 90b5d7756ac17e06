// Test helpers for the crypto core: real keys from ssh-keygen / age-keygen in a
// temp dir, and the real `age` binary as the interop peer.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface KeyPair {
  /** Private key path. */
  path: string;
  /** Private key text. */
  priv: string;
  /** authorized_keys line. */
  pub: string;
}

/** A private temp dir and a cleanup function. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "nixseal-test-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** ssh-keygen a key pair (type ed25519 or rsa; bits for rsa; optional passphrase and -m format). */
export function sshKeygen(
  dir: string,
  name: string,
  type: "ed25519" | "rsa" | "ecdsa",
  opts: { bits?: number; passphrase?: string; format?: "PEM" | "PKCS8" } = {},
): KeyPair {
  const path = join(dir, name);
  const args = ["-q", "-t", type, "-N", opts.passphrase ?? "", "-C", `${name}@nixseal-test`, "-f", path];
  if (opts.bits) args.push("-b", String(opts.bits));
  if (opts.format) args.push("-m", opts.format);
  execFileSync("ssh-keygen", args);
  return { path, priv: readFileSync(path, "utf8"), pub: readFileSync(path + ".pub", "utf8").trim() };
}

/** age-keygen: returns the identity file path, the secret key line and the recipient. */
export function ageKeygen(dir: string, name: string): { path: string; identity: string; recipient: string } {
  const path = join(dir, name);
  execFileSync("age-keygen", ["-o", path], { stdio: ["ignore", "ignore", "ignore"] });
  const text = readFileSync(path, "utf8");
  const identity = text.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  const recipient = /public key: (age1\S+)/.exec(text)![1]!;
  return { path, identity, recipient };
}

/** Runs the age CLI with input on stdin; returns status, stdout, stderr. */
export function age(args: string[], input?: Uint8Array | string): { status: number; stdout: Buffer; stderr: string } {
  const r = spawnSync("age", args, { input: input ?? Buffer.alloc(0) });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

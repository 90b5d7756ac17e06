// SSH keys for test hosts: each machine's own host keys, and one operator key per run.
import { randomUUID } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runOk } from "./proc.js";
import { waitFor } from "./wait.js";

/** A machine's public host keys, as authorized_keys-style lines ("ssh-ed25519 AAAA..."). */
export interface HostKeys {
  ed25519Pub: string;
  rsaPub: string;
}

/**
 * RSA host key size: 2048 (the smallest ssh-rsa age accepts) unless
 * NIXSEAL_TESTHOST_RSA_BITS says otherwise. OpenSSH's default 3072 costs 1-3 s of CPU per
 * key here, which made 10 parallel boots wait about 10 s for their keys.
 */
function rsaBits(): string {
  const bits = process.env.NIXSEAL_TESTHOST_RSA_BITS ?? "2048";
  if (!/^\d{4,5}$/.test(bits)) throw new Error(`test hosts: NIXSEAL_TESTHOST_RSA_BITS=${bits} is not a key size`);
  return bits;
}

/** Strips the comment from a public key line: "type base64". */
function keyLine(pubFile: string): string {
  return readFileSync(pubFile, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

/**
 * Creates a machine's ed25519 and rsa host keys in `<upper>/etc/ssh`, where sshd finds them
 * once the overlay is mounted. Keys are made on the box, so nothing waits for entropy
 * inside the machine, and the harness knows the public halves before the first boot.
 */
export async function makeHostKeys(upperDir: string, hostName: string): Promise<HostKeys> {
  const dir = join(upperDir, "etc/ssh");
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const gen = (type: string, extra: string[]) =>
    runOk(["ssh-keygen", "-q", "-t", type, ...extra, "-N", "", "-C", `root@${hostName}`, "-f", join(dir, `ssh_host_${type}_key`)]);
  await Promise.all([gen("ed25519", []), gen("rsa", ["-b", rsaBits()])]);
  return {
    ed25519Pub: keyLine(join(dir, "ssh_host_ed25519_key.pub")),
    rsaPub: keyLine(join(dir, "ssh_host_rsa_key.pub")),
  };
}

/**
 * The run's operator key (ed25519, no passphrase), created once per run. Several worker
 * processes of one run may ask at once: each makes a candidate and the first hard link
 * wins, so all end up with the same key.
 *
 * @returns the private key path (public key at `<path>.pub`)
 */
export function ensureOperatorKey(runDir: string): Promise<string> {
  let p = operatorKeys.get(runDir);
  if (!p) {
    p = makeOperatorKey(runDir);
    operatorKeys.set(runDir, p);
  }
  return p;
}
const operatorKeys = new Map<string, Promise<string>>();

async function makeOperatorKey(runDir: string): Promise<string> {
  const key = join(runDir, "operator_ed25519");
  if (existsSync(key) && existsSync(`${key}.pub`)) return key;
  const tmp = `${key}.tmp-${process.pid}-${randomUUID()}`;
  rmSync(tmp, { force: true });
  rmSync(`${tmp}.pub`, { force: true });
  await runOk(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nixseal-test-operator", "-f", tmp]);
  try {
    linkSync(`${tmp}.pub`, `${key}.pub`);
    linkSync(tmp, key);
  } catch {
    // another process won; wait for its private key to appear below
  }
  rmSync(tmp, { force: true });
  rmSync(`${tmp}.pub`, { force: true });
  if (!existsSync(key)) {
    // The winner links .pub first, then the key, within microseconds.
    await waitFor(() => existsSync(key), { timeoutMs: 5000, what: "the run's operator key" });
  }
  return key;
}

/** The public half of a key made by ensureOperatorKey, as one line. */
export function publicKeyLine(privateKeyPath: string): string {
  return keyLine(`${privateKeyPath}.pub`);
}

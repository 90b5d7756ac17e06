// What comes with a generated value besides the blob: a key pair's public half (in
// nixseal.json, not secret) and a password hash's generated password, kept as the
// admin-only secret NAME.password (no hosts: encrypted to the admins alone).
import { unlink } from "node:fs/promises";
import { NixsealError, PASSWORD_HASH_KINDS, passwordSecretOf, type GenerateSpec, type Repo } from "../../core/index.js";
import { secretFile } from "../repo/index.js";
import type { Value } from "../values.js";
import { now, writeEncrypted } from "./write.js";

function hashes(spec: GenerateSpec | undefined): boolean {
  return spec !== undefined && "kind" in spec && (PASSWORD_HASH_KINDS as readonly string[]).includes(spec.kind);
}

/** The password-hash secret whose generated password `name` holds, if it is one. */
export function passwordOwner(repo: Repo, name: string): string | undefined {
  if (!name.endsWith(".password")) return undefined;
  const owner = name.slice(0, -".password".length);
  return hashes(repo.secrets[owner]?.generate) && passwordSecretOf(owner) === name ? owner : undefined;
}

/**
 * Refuses to change NAME.password on its own: it changes with its hash.
 *
 * @throws NixsealError NIXSEAL_ERR_GENERATED_PASSWORD
 */
export function refusePasswordSecret(repo: Repo, name: string, action: string): void {
  const owner = passwordOwner(repo, name);
  if (owner === undefined) return;
  throw new NixsealError("NIXSEAL_ERR_GENERATED_PASSWORD", `${name} is the generated password of ${owner}; it cannot be ${action} on its own`, {
    hints: [`nixseal secrets rotate ${owner} makes a new password and hash together; read the password with: nixseal secrets cat ${name}`],
  });
}

/** The name of the password secret a spec needs, checked free; undefined when it needs none. */
export function passwordSecretFor(repo: Repo, name: string, spec: GenerateSpec | undefined, current?: GenerateSpec): string | undefined {
  if (!hashes(spec)) return undefined;
  const pw = passwordSecretOf(name);
  if (repo.secrets[pw] && !hashes(current)) {
    throw new NixsealError("NIXSEAL_ERR_SECRET_EXISTS", `secret ${pw} already exists, and a generated password would need that name`, {
      hints: [`rename or remove it first (nixseal secrets rm ${pw}), or give the secret another name`],
    });
  }
  return pw;
}

/**
 * Stores a new value of secret NAME (already in repo.secrets) under the repo lock:
 * its blob, its generate spec, its public half, and its password secret; a password
 * secret the new value no longer has is dropped.
 *
 * @returns a function to run after nixseal.json is saved (removes a dropped password's blob)
 */
export async function storeValue(dir: string, repo: Repo, name: string, v: Value): Promise<() => Promise<void>> {
  const s = repo.secrets[name]!;
  const hadPassword = hashes(s.generate);
  if (v.generated) s.generate = v.generated;
  else delete s.generate;
  if (v.public !== undefined) s.public = v.public;
  else delete s.public;
  await writeEncrypted(dir, repo, name, v.value);
  const pw = passwordSecretOf(name);
  if (v.password) {
    const old = repo.secrets[pw];
    repo.secrets[pw] = { hosts: [], owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: (old?.version ?? 0) + 1, updatedAt: now() };
    await writeEncrypted(dir, repo, pw, v.password);
  } else if (hadPassword && repo.secrets[pw]) {
    delete repo.secrets[pw];
    return () => unlink(secretFile(dir, pw)).catch(() => {});
  }
  return async () => {};
}

/** Zeroes a value and what came with it. */
export function wipe(v: Value): void {
  v.value.fill(0);
  v.password?.fill(0);
}

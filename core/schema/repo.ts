import { z } from "zod";
import { parseSshTarget, SSH_TARGET_FORM } from "../ssh-target.js";
import { fileMode, hostName, principal, secretName, secretPath, storedSecretName, unitName } from "./names.js";

/**
 * nixseal.json, the secrets repo's one metadata file. It holds public keys and
 * metadata only; values live encrypted in secrets/<name>.age.
 */
export const REPO_FILE = "nixseal.json";
export const REPO_FORMAT = "nixseal-repo/v1";

const adminSchema = z.strictObject({
  name: z.string().min(1),
  /** age1… recipient or an ssh-ed25519/ssh-rsa public key line. */
  recipient: z.string().min(1),
});

const hostSchema = z.strictObject({
  /** ssh target: user@address[:port]. */
  target: z.string().refine((t) => parseSshTarget(t) !== undefined, { message: SSH_TARGET_FORM }),
  /** The host's SSH public host key (authorized_keys line): recipient and pinned identity. */
  hostKey: z.string().min(1),
  /** The host's NixOS config dir in this repo (default hosts/<name>). */
  configDir: z.string().min(1).optional(),
  /** Rebuild command run on the host after the config lands in /etc/nixos. */
  rebuild: z.string().min(1).optional(),
  /** SSH private key the operator uses for this host. */
  sshKey: z.string().min(1).optional(),
  /** Labels for selecting hosts (`nixseal deploy @web`); the host-name rule, sorted, no repeats. */
  tags: z.array(hostName).optional(),
});

/** Random bytes (base64 or hex) or characters (alnum). */
const randomGenerateSchema = z.strictObject({
  bytes: z.number().int().min(1).max(4096),
  encoding: z.enum(["base64", "hex", "alnum"]),
});

/** Key pairs: the value is the private key, the public half is kept in `public`. */
export const KEY_PAIR_KINDS = ["ssh-ed25519", "wireguard"] as const;
/** Password hashes: the value is the hash; the generated password is the admin-only secret passwordSecretOf(name). */
export const PASSWORD_HASH_KINDS = ["bcrypt", "sha512-crypt"] as const;

const keyPairGenerateSchema = z.strictObject({ kind: z.enum(KEY_PAIR_KINDS) });
const passwordHashGenerateSchema = z.strictObject({
  kind: z.enum(PASSWORD_HASH_KINDS),
  /** Write an htpasswd line, USER:HASH, instead of the hash alone. */
  htpasswdUser: z.string().regex(/^[^:\s]{1,64}$/, { message: "an htpasswd user name: no colon or space" }).optional(),
});

/** How a secret's value was generated; `secrets rotate` generates it again the same way. */
const generateSchema = z.union([randomGenerateSchema, keyPairGenerateSchema, passwordHashGenerateSchema]);

/** The admin-only secret holding the generated password of a password-hash secret. */
export function passwordSecretOf(name: string): string {
  return `${name}.password`;
}

const secretSchema = z.strictObject({
  hosts: z.array(hostName),
  owner: principal.default("root"),
  /** Absent: the owner's primary group on the host (as agenix and sops-nix default it). */
  group: principal.optional(),
  mode: fileMode.default("0400"),
  /** Extra absolute path where the secret should appear (a symlink to the live file). */
  path: secretPath.optional(),
  restartUnits: z.array(unitName).default([]),
  reloadUnits: z.array(unitName).default([]),
  /** Units on the host that may not start before this secret is in place (NixOS wiring; absent: none). */
  neededBy: z.array(unitName).optional(),
  /** Restored before users are created (root-owned), e.g. for users.users.<n>.hashedPasswordFile (absent: false). */
  neededForUsers: z.literal(true).optional(),
  version: z.number().int().min(1),
  updatedAt: z.string(),
  generate: generateSchema.optional(),
  /** The public half of a generated key pair (an SSH public key line, a WireGuard public key): not secret. */
  public: z.string().min(1).optional(),
  /** Fingerprint of the recipient set the .age file was last encrypted to (for rekey). */
  encryptedTo: z.string().optional(),
});

/**
 * A template: a file in the repo (templates/<name>, no secret in it) with
 * {{ secret "NAME" }} placeholders, rendered on each of its hosts into the secrets
 * tmpfs as a file of its own (/run/keys/<name>, like a secret: names are shared).
 */
const templateSchema = secretSchema.pick({ hosts: true, owner: true, group: true, mode: true, path: true, restartUnits: true, reloadUnits: true, neededBy: true, version: true, updatedAt: true });

export const repoSchema = z.strictObject({
  format: z.literal(REPO_FORMAT),
  admins: z.array(adminSchema),
  hosts: z.record(hostName, hostSchema),
  /** Keys are checked against the current name rule when the repo is opened (cli/repo/load.ts), so a name an older rule allowed can still be renamed. */
  secrets: z.record(storedSecretName, secretSchema),
  templates: z.record(secretName, templateSchema).optional(),
  /**
   * Recipient sets that secrets' encryptedTo refer to: set id -> its canonical
   * recipient lines (sorted). Lets rekey see what a blob already holds, so an
   * addition only appends stanzas. Optional: a missing entry means a full re-encryption.
   */
  recipientSets: z.record(z.string().regex(/^sha256:[0-9a-f]{64}$/, { message: "sha256:<64 hex digits>" }), z.array(z.string().min(1)).min(1)).optional(),
});

export type RepoHost = z.infer<typeof hostSchema>;
export type RepoSecret = z.infer<typeof secretSchema>;
export type RepoTemplate = z.infer<typeof templateSchema>;
export type GenerateSpec = z.infer<typeof generateSchema>;
export type Repo = z.infer<typeof repoSchema>;

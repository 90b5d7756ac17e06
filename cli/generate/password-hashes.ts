// Password hashes for `--generate bcrypt|sha512-crypt` (hashedPasswordFile, htpasswd):
// a generated password, hashed by bcryptjs or unixcrypt. The hash is the host's
// value; the password goes to the admins only.
import { randomInt } from "node:crypto";
import bcrypt from "bcryptjs";
import { encrypt as sha512Crypt } from "unixcrypt";
import type { PASSWORD_HASH_KINDS } from "../../core/index.js";

/** bcrypt's cost; each +1 doubles the work (12: ~0.2-0.3 s here). */
const BCRYPT_COST = 12;
/** Length of a generated password, from [A-Za-z0-9]: ~143 bits. */
const PASSWORD_LENGTH = 24;
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const CRYPT_SALT = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

interface PasswordHash {
  /** The hash (or the htpasswd line), with a newline: what the host gets. */
  value: Buffer;
  /** The generated password: for the admins only. */
  password: Buffer;
}

function randomString(alphabet: string, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/**
 * A fresh password and its hash.
 *
 * @param kind - bcrypt ($2b$, accepted by libxcrypt's crypt(3) and Apache's htpasswd) or sha512-crypt ($6$)
 * @param htpasswdUser - write "USER:HASH" (an htpasswd line) instead of the hash alone
 */
export function passwordHash(kind: (typeof PASSWORD_HASH_KINDS)[number], htpasswdUser?: string): PasswordHash {
  const password = randomString(ALNUM, PASSWORD_LENGTH);
  const hash =
    kind === "bcrypt"
      ? bcrypt.hashSync(password, bcrypt.genSaltSync(BCRYPT_COST))
      : sha512Crypt(password, `$6$${randomString(CRYPT_SALT, 16)}`);
  return { value: Buffer.from(`${htpasswdUser === undefined ? "" : `${htpasswdUser}:`}${hash}\n`), password: Buffer.from(password) };
}

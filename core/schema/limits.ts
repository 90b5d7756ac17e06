// Bounds every part checks the same way, free of zod: the agent's boot path reads a
// stored generation without the schema and still applies them.

/**
 * The largest numeric uid or gid nixseal accepts, 2^32 - 2: ids are 32-bit, and
 * 4294967295 is (uid_t)-1, which chown(2) takes as "leave unchanged".
 */
export const MAX_POSIX_ID = 4294967294;

/**
 * A user or group given as a number: decimal digits within 0..MAX_POSIX_ID.
 *
 * @param s - the owner or group as written
 * @returns true when s is a numeric id in range (false for a name or an id out of range)
 */
export function isPosixId(s: string): boolean {
  return /^[0-9]{1,10}$/.test(s) && Number(s) <= MAX_POSIX_ID;
}

/**
 * What a bundle may hold: the agent refuses a bundle dir beyond these before it
 * reads the rest, so a writer cannot make it buffer or store without bound.
 */
export const BUNDLE_LIMITS = Object.freeze({
  /** manifest.json: about 400 bytes a secret, so ten times what the secret limit needs. */
  manifestBytes: 4 * 1024 * 1024,
  /** Secrets in one bundle. */
  secrets: 10_000,
  /** One .age file (the plaintext goes to a memory filesystem, 64 MiB by default). */
  fileBytes: 32 * 1024 * 1024,
  /** Every .age file together. */
  totalBytes: 64 * 1024 * 1024,
});

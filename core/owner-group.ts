// How a secret's owner and group read for people. Zod-free: the agent's status and
// verify print it too.

/**
 * owner:group as chown reads it: "postgres:" when the group is left to the host, the
 * owner's primary group (chown's own spelling for the owner's login group).
 *
 * @param owner - user name or numeric id
 * @param group - group name or id; absent or null: the owner's primary group
 */
export function ownerAndGroup(owner: string, group?: string | null): string {
  return `${owner}:${group ?? ""}`;
}

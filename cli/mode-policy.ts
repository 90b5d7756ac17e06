import { NixsealError } from "../core/index.js";

/**
 * nixseal's file mode policy for secrets (documented in docs/cli.md):
 * - 3 or 4 octal digits only ("0400", "440"); anything else (999, 4755, u+r) is an error;
 * - any bit for others (o+r, o+w, o+x) is refused unless --allow-world-readable,
 *   because every local user could then read (or replace) the key;
 * - group-writable is allowed with a warning (a service can rarely need to write its key);
 * - the result is normalised to 4 digits.
 *
 * @returns the normalised mode and the warnings to print
 * @throws NixsealError NIXSEAL_ERR_BAD_MODE, NIXSEAL_ERR_WORLD_ACCESSIBLE
 */
export function checkMode(input: string, opts: { allowWorld?: boolean } = {}): { mode: string; warnings: string[] } {
  if (!/^0?[0-7]{3}$/.test(input)) {
    throw new NixsealError("NIXSEAL_ERR_BAD_MODE", `"${input}" is not a file mode`, {
      hints: ['give 3 or 4 octal digits, e.g. --mode 0400 (owner read) or --mode 0440 (owner and group read)'],
    });
  }
  const bits = parseInt(input, 8);
  const mode = "0" + bits.toString(8).padStart(3, "0");
  const warnings: string[] = [];
  if (bits & 0o007) {
    if (!opts.allowWorld) {
      throw new NixsealError("NIXSEAL_ERR_WORLD_ACCESSIBLE", `mode ${mode} lets every user on the host access the secret`, {
        hints: ["use a group instead: --group G --mode 0440", "or pass --allow-world-readable if that is really meant"],
      });
    }
    warnings.push(`mode ${mode} lets every user on the host access the secret (--allow-world-readable)`);
  }
  if (bits & 0o020) warnings.push(`mode ${mode} lets group members replace the secret's contents`);
  if ((bits & 0o400) === 0) warnings.push(`mode ${mode} does not let the owner read the secret`);
  return { mode, warnings };
}

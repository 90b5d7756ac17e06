// The metadata options of `secrets add` and `secrets set` (owner, group, mode, path,
// units, hosts), checked before anything is read or written.
import type { Repo, RepoSecret } from "../../core/index.js";
import { selectHostNames } from "../repo/select.js";
import type { CliIo } from "../io.js";
import { checkMode } from "../mode-policy.js";
import { printWarning } from "../output.js";
import { checkHostName, checkPath, checkPrincipal, checkUnit } from "../repo/validate.js";
import { usageError } from "../errors.js";

/** The metadata options as commander gives them. */
export interface MetaOpts {
  owner?: string;
  group?: string;
  mode?: string;
  path?: string | false;
  restartUnit?: string[];
  reloadUnit?: string[];
  neededBy?: string[];
  neededForUsers?: boolean;
  allowWorldReadable?: boolean;
}

/** Validated metadata; undefined means "not given". */
export type Meta = Partial<Pick<RepoSecret, "owner" | "group" | "mode" | "path" | "restartUnits" | "reloadUnits" | "neededBy" | "neededForUsers">>;

/** Checks the metadata options (a mode's warnings are printed). */
export function checkMeta(io: CliIo, opts: MetaOpts): Meta {
  const out: Meta = {};
  if (opts.owner !== undefined) out.owner = checkPrincipal(opts.owner);
  if (opts.group !== undefined) out.group = checkPrincipal(opts.group);
  if (opts.mode !== undefined) {
    const { mode, warnings } = checkMode(opts.mode, { allowWorld: opts.allowWorldReadable });
    out.mode = mode;
    for (const w of warnings) printWarning(io, w);
  }
  if (typeof opts.path === "string") out.path = checkPath(opts.path);
  if (opts.restartUnit) out.restartUnits = [...new Set(opts.restartUnit.map(checkUnit))];
  if (opts.reloadUnit) out.reloadUnits = [...new Set(opts.reloadUnit.map(checkUnit))];
  if (opts.neededBy) out.neededBy = [...new Set(opts.neededBy.map(checkUnit))];
  if (opts.neededForUsers === true) out.neededForUsers = true;
  return out;
}

/** A secret restored before users exist can only belong to root. */
export function checkForUsers(name: string, s: RepoSecret): void {
  if (s.neededForUsers && !(["root", "0"].includes(s.owner) && ["root", "0"].includes(s.group ?? "root"))) {
    throw usageError(`secret "${name}" is needed for users, so it must be owned by root:root (it is restored before any other user exists)`, [
      "use --owner root --group root, or leave out --needed-for-users",
    ]);
  }
}

const isSelector = (h: string): boolean => h.startsWith("@") || /[*?]/.test(h);

/**
 * Host names (or @tag and glob selectors), checked and without repeats; none is a usage
 * error unless allowed. Selectors are expanded against the repo by expandHosts.
 */
export function checkHosts(list: string[], allowEmpty = false): string[] {
  const hosts = [...new Set(list.map((h) => (isSelector(h) ? h : checkHostName(h))))];
  if (!allowEmpty && hosts.length === 0) {
    throw usageError("no host given", ["--host web1,web2"]);
  }
  return hosts;
}

/** The hosts a checked list names: @tags and globs expanded (cli/repo/select.ts), names kept as given. */
export function expandHosts(repo: Repo, hosts: string[]): string[] {
  return [...new Set(hosts.flatMap((h) => (isSelector(h) ? selectHostNames(repo, [h]) : [h])))];
}

/**
 * The group of a new secret or template: --group, else the owner's primary group on the
 * host, which nixseal.json says by leaving group out (for root that is root, written).
 */
export function defaultGroup(meta: Pick<Meta, "owner" | "group">): { group?: string } {
  if (meta.group !== undefined) return { group: meta.group };
  return ["root", "0"].includes(meta.owner ?? "root") ? { group: "root" } : {};
}

// The one rule for a secret's `path` (the extra symlink to its live file), free of zod:
// the CLI checks it when a secret is set, the schemas of nixseal.json and manifest.json
// carry its syntax part, and the agent checks it again against its own directories
// before it makes a link (a stored generation is read without the schema at boot).

/** Longest path Linux resolves (PATH_MAX includes the NUL), and longest component. */
const PATH_MAX = 4095;
const NAME_MAX = 255;

/**
 * Why a path cannot be a secret's `path` on its own terms, or undefined when it can:
 * absolute, normalised (no empty, "." or ".." component, no trailing "/", not "/"),
 * no control characters, well-formed Unicode, within Linux's length limits.
 *
 * @param path - the path as written
 * @returns the reason in words (never quoting the path), or undefined
 */
export function secretPathSyntaxProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "it is not an absolute path";
  if (/[\u0000-\u001f\u007f-\u009f]/.test(path)) return "it contains a control character (newline, tab, NUL, …)";
  // a lone surrogate does not survive UTF-8: it would become U+FFFD in the file name
  if (Buffer.from(path, "utf8").toString("utf8") !== path) return "it is not well-formed Unicode";
  if (path === "/") return "it is the root directory";
  if (path.endsWith("/")) return 'it ends with "/"';
  const parts = path.slice(1).split("/");
  if (parts.includes("")) return 'it has an empty component ("//")';
  if (parts.some((p) => p === "." || p === "..")) return 'it has a "." or ".." component';
  if (Buffer.byteLength(path) > PATH_MAX || parts.some((p) => Buffer.byteLength(p) > NAME_MAX)) return "it is longer than Linux allows";
  return undefined;
}

/**
 * Why a path would touch what nixseal manages, or undefined: equal to, inside, or a
 * parent of any of `managed` (its state, run, keys, socket and config directories, its
 * host keys). A link there would replace what the agent relies on.
 *
 * @param path - a path that passed secretPathSyntaxProblem
 * @param managed - absolute, normalised directories and files the agent uses
 */
function managedPathProblem(path: string, managed: readonly string[]): string | undefined {
  for (const dir of managed) {
    if (path === dir) return `it is ${dir}, which nixseal manages`;
    if (path.startsWith(dir + "/")) return `it is inside ${dir}, which nixseal manages`;
    if (dir.startsWith(path + "/")) return `it contains ${dir}, which nixseal manages`;
  }
  return undefined;
}

/**
 * What nixseal manages on a host with this layout, for managedPathProblem: the state,
 * run and keys directories, the socket's and the config file's directories, the host
 * keys. The agent passes its config; the CLI the default layout (HOST_PATHS).
 */
export function managedHostPaths(layout: { stateDir: string; runDir: string; keysDir: string; socket: string; config: string; identityPaths: readonly string[] }): string[] {
  const parent = (p: string) => p.slice(0, p.lastIndexOf("/")) || "/";
  return [layout.stateDir, layout.runDir, layout.keysDir, parent(layout.socket), parent(layout.config), ...layout.identityPaths];
}

/**
 * The whole rule: syntax, then the managed directories.
 *
 * @returns the reason, or undefined when the path is acceptable
 */
export function secretPathProblem(path: string, managed: readonly string[]): string | undefined {
  return secretPathSyntaxProblem(path) ?? managedPathProblem(path, managed);
}

/**
 * The first two secrets that claim the same `path` (one link can point at one secret).
 *
 * @param secrets - the secrets that land on one host
 * @returns the path and both names, or undefined when every path is unique
 */
export function duplicateSecretPath(secrets: Iterable<{ name: string; path?: string | undefined }>): { path: string; names: [string, string] } | undefined {
  const seen = new Map<string, string>();
  for (const s of secrets) {
    if (s.path === undefined) continue;
    const other = seen.get(s.path);
    if (other !== undefined) return { path: s.path, names: [other, s.name] };
    seen.set(s.path, s.name);
  }
  return undefined;
}

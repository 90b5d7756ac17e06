// The agent's one error catalogue (Fastify style: @fastify/error classes with a
// code, an HTTP status and a printf message). Every entry is a NixsealError, so the
// CLI printer, the API error handler and docs/errors.md speak the same codes.
// Messages name files, generations and secret names; never a value or a key.
//
// The plumbing (lazy @fastify/error, NixsealError fields, statusOf) is core's, shared
// with the server's catalogue: core/error-catalogue.ts.
import { catalogueEntry as entry, type CatalogueError } from "../core/error-catalogue.js";
import { HOST_PATHS } from "../core/on-host.js";

export { statusOf } from "../core/error-catalogue.js";

/** A catalogue error: a NixsealError that also carries its HTTP status. */
export type AgentError = CatalogueError;

export const errors = {
  usage: entry("NIXSEAL_ERR_AGENT_USAGE", "%s", 400, ["run nixseal-agent --help for the commands and their arguments"], 2),
  badRequest: entry("NIXSEAL_ERR_AGENT_BAD_REQUEST", "bad request: %s", 400, ["see docs/agent.md for the request shapes"]),
  notFound: entry("NIXSEAL_ERR_AGENT_ROUTE_NOT_FOUND", "no route %s", 404, ["see docs/agent.md for the routes"]),
  generationNotFound: entry("NIXSEAL_ERR_AGENT_GENERATION_NOT_FOUND", "generation %s does not exist in %s", 404, [
    "list the generations with nixseal-agent status",
  ]),
  bundleInvalid: entry("NIXSEAL_ERR_AGENT_BUNDLE_INVALID", "bundle %s: %s", 400, [
    "rebuild the bundle with nixseal bundle HOST --out DIR (or nixseal deploy) and ship it again",
  ]),
  checksum: entry("NIXSEAL_ERR_AGENT_CHECKSUM", "bundle %s: %s does not match its sha256 in manifest.json", 400, [
    "the file was damaged or changed in transit; ship the bundle again",
  ]),
  decrypt: entry("NIXSEAL_ERR_AGENT_DECRYPT", "secret '%s' cannot be decrypted with this host's keys: %s", 400, [
    "re-encrypt the secret to this host's current SSH host key (nixseal secrets rekey), then deploy again",
  ]),
  templateInput: entry("NIXSEAL_ERR_AGENT_TEMPLATE_INPUT", "template '%s' uses secret '%s', which could not be restored", 400, [
    "fix that secret first (nixseal-agent status says why it failed); the template follows",
  ]),
  templateInvalid: entry("NIXSEAL_ERR_AGENT_TEMPLATE_INVALID", "template '%s': %s", 400, [
    "rebuild the bundle with nixseal bundle HOST --out DIR (or nixseal deploy): nixseal checks templates before they ship",
  ]),
  unknownOwner: entry("NIXSEAL_ERR_AGENT_UNKNOWN_OWNER", "secret '%s': user '%s' does not exist on this host", 400, [
    "create the user on the host (or fix the secret's owner in nixseal.json), then deploy or run nixseal-agent restore",
  ]),
  bundleProblems: entry("NIXSEAL_ERR_AGENT_BUNDLE_PROBLEMS", "the bundle cannot be installed here, %s problems: %s", 400, [
    "fix each (create the users and groups on the host, or fix nixseal.json; re-encrypt what this host cannot open), then deploy again",
  ]),
  unitMissing: entry("NIXSEAL_ERR_AGENT_UNIT_MISSING", "unit %s (restarted or reloaded for %s) is %s", 400, [
    "create the unit on the host, or change what the secret names (nixseal secrets set NAME --restart-unit UNIT); a unit the host's NixOS config adds: deploy the config with the secrets",
  ]),
  unknownGroup: entry("NIXSEAL_ERR_AGENT_UNKNOWN_GROUP", "secret '%s': group '%s' does not exist on this host", 400, [
    "create the group on the host (or fix the secret's group in nixseal.json), then deploy or run nixseal-agent restore",
  ]),
  badId: entry("NIXSEAL_ERR_AGENT_BAD_ID", "secret '%s': %s is not a valid user or group id (0 to %s)", 400, [
    "fix the secret's owner or group in nixseal.json (a name, or a numeric id in range), then deploy again",
  ]),
  noHostKey: entry("NIXSEAL_ERR_AGENT_NO_HOST_KEY", "no usable SSH host key among %s", 500, [
    `check identityPaths in ${HOST_PATHS.config} and that sshd's host keys exist (ssh-keygen -A)`,
  ]),
  plantedSymlink: entry("NIXSEAL_ERR_AGENT_PLANTED_SYMLINK", "%s is a symlink or of the wrong type where the agent writes; refusing to write through it", 409, [
    "remove it (it was not made by nixseal) and retry",
  ]),
  noSpace: entry("NIXSEAL_ERR_AGENT_NO_SPACE", "%s is full: generation %s does not fit; the previous generation stays active", 507, [
    "raise the size= option of run-nixseal.mount (systemctl edit run-nixseal.mount), or remove large secrets",
  ]),
  secretNoSpace: entry("NIXSEAL_ERR_AGENT_SECRET_NO_SPACE", "secret '%s' does not fit in %s; the secrets that fit were restored", 507, [
    "raise the size= option of run-nixseal.mount (systemctl edit run-nixseal.mount), then run nixseal-agent restore",
  ]),
  writeFailed: entry("NIXSEAL_ERR_AGENT_WRITE", "secret '%s': cannot write %s: %s", 500, [
    "see the agent's journal (journalctl -u nixseal-restore -u nixseal-agent), fix the cause, then run nixseal-agent restore",
  ]),
  notMemoryFs: entry("NIXSEAL_ERR_AGENT_NOT_MEMORY_FS", "%s is not a tmpfs or ramfs mount; refusing to write plaintext to it", 500, [
    "start run-nixseal.mount (systemctl start run-nixseal.mount) or run nixseal-agent install",
  ]),
  notOwnMount: entry("NIXSEAL_ERR_AGENT_NOT_OWN_MOUNT", "%s is a directory on the %s mounted at %s, not a mount of its own; refusing to write plaintext to it", 500, [
    "mount a memory filesystem there (systemctl start run-nixseal.mount, or nixseal-agent install); a shared tmpfs such as /dev/shm is open to other users and may swap",
  ]),
  swappableTmpfs: entry("NIXSEAL_ERR_AGENT_SWAPPABLE_TMPFS", "%s is a tmpfs mounted without noswap: plaintext could be written to swap; refusing to use it", 500, [
    "mount it with noswap (kernel 6.4 or later: mount -o remount,noswap DIR) or as ramfs (run-nixseal.mount picks one), or accept the risk with \"allowSwappableTmpfs\": true in /etc/nixseal/agent.json",
  ]),
  noPrevious: entry("NIXSEAL_ERR_AGENT_NO_PREVIOUS", "there is no previous generation to roll back to", 409, [
    "list the generations with nixseal-agent status and activate one by number",
  ]),
  socketDir: entry("NIXSEAL_ERR_AGENT_SOCKET_DIR", "the socket directory %s belongs to uid %s, not to the agent; refusing to listen there", 500, [
    "remove the directory (the agent makes it, root-only), or set socket in /etc/nixseal/agent.json to a path under a root-owned directory",
  ]),
  socketPath: entry("NIXSEAL_ERR_AGENT_SOCKET_DIR", "cannot listen on %s: %s", 500, [
    "set socket in /etc/nixseal/agent.json to a path under root-owned directories (the default is /run/nixseal-agent/agent.sock)",
  ]),
  busy: entry("NIXSEAL_ERR_AGENT_BUSY", "another nixseal-agent operation is running (pid %s)", 409, [
    "wait for it to finish and retry",
  ]),
  link: entry("NIXSEAL_ERR_AGENT_LINK", "secret '%s': cannot link %s: %s", 500, [
    `a file or directory that nixseal did not make is in the way, or the sandbox forbids the directory: add it to readWritePaths in ${HOST_PATHS.config} and run nixseal-agent install`,
  ]),
  keysDir: entry("NIXSEAL_ERR_AGENT_KEYS_DIR", "the keys directory %s %s; refusing to link secrets there", 409, [
    "remove what is there (a symlink: rm it; the agent then makes the keys directory a link to its live generation), give the directory to root with mode 0750 or 0755, or set keysDir in /etc/nixseal/agent.json",
  ]),
  install: entry("NIXSEAL_ERR_AGENT_INSTALL", "cannot install the units: %s", 500, [
    "run nixseal-agent install as root on a host booted with systemd",
  ]),
  systemDrift: entry("NIXSEAL_ERR_AGENT_SYSTEM_DRIFT", "the bundle does not match what this system was built for (%s): %s", 409, [
    "deploy with the config, so the host is rebuilt for these secrets: nixseal deploy HOST (not --secrets-only)",
    "if the repository's hosts/HOST/nixseal-secrets.json is out of date: nixseal host sync HOST, commit, then deploy",
  ]),
  systemSecrets: entry("NIXSEAL_ERR_AGENT_SYSTEM_SECRETS", "%s cannot be read: %s", 500, [
    "it comes from the NixOS module (environment.etc); rebuild the system (nixos-rebuild switch) or remove a hand-made copy",
  ]),
  badName: entry("NIXSEAL_ERR_AGENT_BAD_NAME", "bundle %s: %s", 400, [
    "rename the secret in the repository (nixseal secrets rename OLD NEW), then deploy again",
  ]),
  internal: entry("NIXSEAL_ERR_AGENT_INTERNAL", "internal error", 500, ["see the agent's journal: journalctl -u nixseal-agent"]),
};

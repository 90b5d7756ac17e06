// The agent's commands, one row each: operands, options, usage lines and what runs.
// main.ts parses, dispatches and prints --help from this table alone. `restore` runs
// at every boot: its module is imported statically (the build's bundle then holds the
// whole boot path in one chunk); every other command's module is imported when that
// command runs, Fastify only for `serve`.
import { restore } from "./restore.js";
import type { AgentIo } from "./io.js";
import type { Invocation } from "./invocation.js";
import type { OptionName } from "./options.js";

export interface AgentCommand {
  name: string;
  /** The operands, each required (their names appear in usage errors). */
  operands: readonly string[];
  /** Options beyond COMMON_OPTIONS. */
  options: readonly OptionName[];
  /** Usage lines: a synopsis without the program name, and what it does. */
  usage: ReadonlyArray<readonly [synopsis: string, what: string]>;
  /** More for `nixseal-agent NAME --help`. */
  help?: string;
  run(inv: Invocation, io: AgentIo): Promise<number>;
}

export const COMMANDS: readonly AgentCommand[] = [
  {
    name: "restore",
    operands: [],
    options: ["forUsers"],
    usage: [
      ["restore", "decrypt the current generation into /run/nixseal (boot oneshot)"],
      ["restore --for-users", "only the secrets users are made with, root-only, into /run/nixseal/for-users (before users exist)"],
    ],
    run: restore,
  },
  {
    name: "serve",
    operands: [],
    options: [],
    usage: [["serve", "run the API on the unix socket (root only)"]],
    run: async (inv, io) => (await import("./serve.js")).serve(inv, io),
  },
  {
    name: "status",
    operands: [],
    options: ["json"],
    usage: [["status [--json]", "what this host runs, from disk (works without the API)"]],
    run: async (inv, io) => (await import("./status.js")).status(inv, io),
  },
  {
    name: "verify",
    operands: [],
    options: ["json"],
    usage: [["verify [--json]", "check every live secret (owner, group, mode, content) and that its units started after the boot restore"]],
    help: `Checks the current generation: each file under the run dir has the owner, group
and mode of the manifest and the bytes of the decrypted ciphertext (compared on this
host; no hash of a value is printed), /run/keys/NAME leads to it, and each unit a
secret restarts or reloads began starting after this boot's restore finished
(systemd's monotonic timestamps, same boot id). Exit 1 naming what is wrong.
nixseal verify HOST runs it after a reboot.
`,
    run: async (inv, io) => (await import("./verify.js")).verify(inv, io),
  },
  {
    name: "import",
    operands: ["DIR"],
    options: ["root"],
    usage: [
      ["import DIR", "store a bundle dir as a new generation and activate it"],
      ["import DIR --root IMG", "image baking: check DIR against the offline system at IMG (its host key, users, groups) and store it there as current"],
    ],
    run: async (inv, io) => (await import("./generations.js")).importDir(inv, io),
  },
  {
    name: "stage",
    operands: ["DIR"],
    options: [],
    usage: [["stage DIR", "check a bundle dir and store it as a pending generation"]],
    run: async (inv, io) => (await import("./generations.js")).stage(inv, io),
  },
  {
    name: "activate",
    operands: ["N"],
    options: [],
    usage: [["activate N", "make generation N live"]],
    run: async (inv, io) => (await import("./generations.js")).activate(inv, io),
  },
  {
    name: "rollback",
    operands: [],
    options: [],
    usage: [["rollback", "make the previous generation live again"]],
    run: async (inv, io) => (await import("./generations.js")).rollback(inv, io),
  },
  {
    name: "install",
    operands: [],
    options: ["agent", "noStart", "server", "host", "trustKey", "trustServer", "follow"],
    usage: [
      ["install [--agent PATH] [--no-start]", "write the systemd units, daemon-reload, enable and start them"],
      ["install --server URL (--trust-key FILE... | --trust-server) [--follow]", "also the units that pull from a nixseal server (a timer, or a follower)"],
    ],
    run: async (inv, io) => (await import("./install.js")).install(inv, io),
  },
  {
    name: "check",
    operands: ["MANIFEST|DIR"],
    options: [],
    usage: [["check MANIFEST|DIR", "validate a manifest or a bundle dir (no decryption)"]],
    run: async (inv, io) => (await import("./check.js")).check(inv, io),
  },
  {
    name: "pull",
    operands: [],
    options: ["server", "host", "trustKey", "trustServer", "follow", "wait"],
    usage: [
      [
        "pull --server URL (--trust-key FILE... | --trust-server) [--follow]",
        "fetch this host's latest bundle from a nixseal server, check it, import it",
      ],
    ],
    help: `Fetches this host's latest bundle from a nixseal server, signing the request
with this host's SSH host key, checks the operator's signature (--trust-key:
ssh-ed25519 or ssh-rsa public keys, as given to nixseal push --sign-key),
every file's sha256 and that the bundle's sequence is above the highest this
host has run, stores it as a new generation and activates it (as import does).
--follow stays running and installs each newer bundle as soon as it is pushed
(a long-poll of --wait seconds, default 50, renewed); stop it with SIGTERM.
--trust-server accepts unsigned bundles: the server (and anyone between) could
then choose what this host installs. --host defaults to the short host name.
See docs/server.md.
`,
    run: async (inv, io) => (await import("../pull/pull.js")).runPull(inv, io),
  },
];

// Where nixseal lives on a host: the one definition of the paths the operator CLI (deploy
// uploads, takes its lock, keeps the previous config and talks to the agent) and the
// agent (its defaults) agree on, and the file names of a bundle. No dependencies: the
// agent's boot restore reads it. host-agent/systemd/units.json repeats the paths its
// units use for the NixOS module (Nix cannot read TypeScript); test/tree/contracts.test.ts
// checks the two agree.

export const HOST_PATHS = Object.freeze({
  /** The agent's settings (optional). */
  config: "/etc/nixseal/agent.json",
  /** Bundles at rest (ciphertext only): generations/<n>/, current, previous. */
  stateDir: "/var/lib/nixseal",
  /** Plaintext, on a memory filesystem: <n>/NAME behind the `current` link. */
  runDir: "/run/nixseal",
  /** NixOps' path to the live secrets. */
  keysDir: "/run/keys",
  /** The directory of the API socket (0700). */
  socketDir: "/run/nixseal-agent",
  /** The agent's API: a root-only unix socket. */
  socket: "/run/nixseal-agent/agent.sock",
  /** Where deploy uploads config and bundle before the agent checks them (readable by the sandboxed service). */
  staging: "/var/lib/nixseal/staging",
  /** The deploy lock (flock) that serialises deploys and rollbacks on a host. */
  deployLock: "/var/lib/nixseal/deploy.lock",
  /** Where deploy keeps the /etc/nixos it replaced. */
  configBackup: "/var/lib/nixseal/config",
  /** What the running NixOS system was built for (the generated nixseal-secrets.json); absent on plain hosts. */
  systemSecrets: "/etc/nixseal/secrets.json",
  /** The secrets users are made with (neededForUsers), root-only, on the run dir's memory filesystem. */
  forUsersDir: "/run/nixseal/for-users",
});

/** The host's SSH private keys the agent decrypts with by default (a missing RSA key is normal). */
export const HOST_KEY_PATHS: readonly string[] = Object.freeze(["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]);

/** A bundle dir's manifest: host, id and one entry per secret naming its .age file. */
export const BUNDLE_MANIFEST = "manifest.json";

// The environment variables nixseal reads, once: the man page lists them (and a test
// checks that docs/cli.md's "Environment" table names the same ones).
/** Variable(s), what it does. */
export const ENVIRONMENT: [string, string][] = [
  ["NIXSEAL_IDENTITY", "identity file to decrypt with (same as -i/--identity)"],
  ["NIXSEAL_PASSPHRASE_FILE", "file whose first line is the passphrase of an encrypted SSH identity"],
  ["NIXSEAL_NO_KEYCHAIN", "1: do not use the OS keychain (use the identity file)"],
  ["NIXSEAL_EDIT_DIR", "tmpfs directory for secrets edit"],
  ["VISUAL, EDITOR", "the editor for secrets edit"],
  ["XDG_CONFIG_HOME", "where the fallback identity file lives ($XDG_CONFIG_HOME/nixseal/identity.txt)"],
  ["DBUS_SESSION_BUS_ADDRESS", "the D-Bus session the OS keychain (Secret Service) is reached through; unset over a plain SSH login"],
  ["NO_COLOR", "no colours"],
];


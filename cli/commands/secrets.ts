import type { Command } from "commander";
import { NixsealError } from "../../core/index.js";
import { addSecret, type AddOptions } from "../secrets/add.js";
import { catSecret } from "../secrets/cat.js";
import { editSecret, type EditOptions } from "../secrets/edit.js";
import { listSecrets } from "../secrets/list.js";
import { rekeyCommand, type RekeyOptions } from "../secrets/rekey.js";
import { renameSecret } from "../secrets/rename.js";
import { removeSecret } from "../secrets/rm.js";
import { rotateSecret, type RotateOptions } from "../secrets/rotate.js";
import { setSecret, type SetOptions } from "../secrets/set.js";
import { showSecret } from "../secrets/show.js";
import type { CommandContext } from "./context.js";

// The wiring of `nixseal secrets …`: arguments, options and help; each operation is in cli/secrets/.

/** Accumulates repeatable, comma-separated options: --host a,b --host c. */
const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(",").filter((v) => v !== "")];

const VALUE_HELP = `
The value comes from stdin (piped, or typed without echo on a terminal), from
--from-file F, or from --generate: BYTES (random; --encoding base64|hex|alnum,
default base64; for alnum BYTES is the number of characters), ssh-ed25519 or
wireguard (a key pair: the value is the private key, "secrets show NAME --public"
prints the public key), bcrypt or sha512-crypt (a generated password's hash, e.g.
for hashedPasswordFile; --htpasswd-user U writes an htpasswd line; the password is
the admin-only secret NAME.password). Never from the command line, where other
users and shell history would see it.`;

/**
 * `secrets add NAME VALUE`: a value typed as an operand is refused with the reason and
 * the ways that work, instead of a bare "too many arguments" (the value is not echoed).
 */
function noValueOperand(cmd: Command): void {
  if (cmd.args.length <= 1) return;
  throw new NixsealError("NIXSEAL_ERR_VALUE_ON_COMMAND_LINE", `values come from stdin, --from-file or --generate, never from the command line (${cmd.args.length - 1} extra operand${cmd.args.length > 2 ? "s" : ""} given)`, {
    hints: [
      "the command line is visible to other users (ps) and kept in shell history: if that was a real value, rotate it",
      `printf %s "$VALUE" | nixseal secrets ${cmd.name()} ${cmd.args[0]} …, or --from-file FILE, or --generate BYTES`,
    ],
    exitCode: 2,
  });
}

/** `nixseal secrets add|rotate|rekey|edit|cat|list|rm|rename|set`. */
export function registerSecrets(program: Command, ctx: CommandContext): void {
  const secrets = program.command("secrets").description("add, rotate, re-encrypt, edit and read secrets");

  secrets
    .command("add")
    .description("add a secret for some hosts")
    .argument("<name>", "secret name (file name on the host: letters, digits, . _ @ + -)")
    .option("--host <a,b>", "hosts that receive it: names or @tags (repeatable, comma-separated; required)", collect)
    .option("--owner <user>", "owner of the file on the host", "root")
    .option("--group <group>", "group of the file on the host (default: the owner's primary group there)")
    .option("--mode <mode>", "octal file mode on the host", "0400")
    .option("--path <path>", "extra absolute path where the secret appears (a symlink)")
    .option("--restart-unit <unit>", "systemd unit to restart when the value changes (repeatable)", collect)
    .option("--reload-unit <unit>", "systemd unit to reload when the value changes (repeatable)", collect)
    .option("--needed-by <unit>", "NixOS: unit that may not start before the secret is in place (repeatable)", collect)
    .option("--needed-for-users", "NixOS: restore it before users are created (root-owned; for users.users.NAME.hashedPasswordFile)")
    .option("--from-file <file>", "read the value from this file")
    .option("--generate <bytes|kind>", "generate the value: BYTES random bytes, or ssh-ed25519, wireguard, bcrypt, sha512-crypt")
    .option("--encoding <encoding>", "with --generate BYTES: base64 (default), hex or alnum")
    .option("--htpasswd-user <user>", "with --generate bcrypt|sha512-crypt: write USER:HASH")
    .option("--allow-world-readable", "allow a mode that gives others access (e.g. 0444)")
    .addHelpText(
      "after",
      VALUE_HELP +
        `

Examples:
  printf %s "$DB_PASSWORD" | nixseal secrets add db-password --host web1,web2 --owner postgres --mode 0400
  nixseal secrets add tls.key --host web1 --from-file ./web1.key --owner nginx --restart-unit nginx.service
  nixseal secrets add session-secret --host web1 --generate 32 --encoding hex
  nixseal secrets add wg0.key --host web1 --generate wireguard --owner systemd-network --mode 0440
  nixseal secrets add alice-password --host web1 --generate sha512-crypt   # users.users.alice.hashedPasswordFile`,
    )
    .allowExcessArguments(true)
    .action((name: string, opts: AddOptions, cmd: Command) => {
      noValueOperand(cmd);
      return addSecret(ctx.io, name, opts);
    });

  secrets
    .command("rotate")
    .description("give a secret a new value (version +1)")
    .argument("<name>", "secret name")
    .option("--from-file <file>", "read the new value from this file")
    .option("--generate <bytes|kind>", "generate the value: BYTES random bytes, or ssh-ed25519, wireguard, bcrypt, sha512-crypt")
    .option("--encoding <encoding>", "with --generate BYTES: base64 (default), hex or alnum")
    .option("--htpasswd-user <user>", "with --generate bcrypt|sha512-crypt: write USER:HASH")
    .option("--stdin", "read the new value from stdin even if the secret was generated")
    .addHelpText(
      "after",
      VALUE_HELP +
        `
A secret that was generated is generated again the same way unless a source is given.

Examples:
  nixseal secrets rotate session-secret
  printf %s "$NEW" | nixseal secrets rotate db-password`,
    )
    .allowExcessArguments(true)
    .action((name: string, opts: RotateOptions, cmd: Command) => {
      noValueOperand(cmd);
      return rotateSecret(ctx.io, name, opts);
    });

  secrets
    .command("rekey")
    .description("re-encrypt secrets whose recipients (hosts or admins) changed")
    .argument("[names...]", "only these secrets (default: all)")
    .option("--all", "re-encrypt even secrets whose recipients did not change")
    .option("--dry-run", "only list what would be re-encrypted")
    .option("-i, --identity <file>", "admin identity to decrypt with (age identity file or SSH private key)")
    .addHelpText(
      "after",
      `
Each secret is encrypted to its hosts' keys plus every admin. nixseal records a
fingerprint of that set with each secret; rekey re-encrypts the ones whose set
changed since (a host added, removed or re-keyed; an admin added or removed).
When recipients were only added, each blob keeps its file key and payload and
gets a stanza per new recipient; any removal or key change (and --all)
re-encrypts with a fresh file key, in parallel.

Examples:
  nixseal secrets rekey
  nixseal secrets rekey --all -i ~/.ssh/id_ed25519`,
    )
    .action((names: string[], opts: RekeyOptions) => rekeyCommand(ctx.io, names, opts));

  secrets
    .command("edit")
    .description("edit a secret's value in $EDITOR (cleartext only on a tmpfs, removed afterwards); a new name is created")
    .argument("<name>", "secret name")
    .option("-i, --identity <file>", "admin identity to decrypt with")
    .option("--host <a,b>", "a new secret: the hosts that receive it (names or @tags; repeatable)", collect)
    .option("--owner <user>", "a new secret: owner of the file on the host")
    .option("--group <group>", "a new secret: group of the file on the host")
    .option("--mode <mode>", "a new secret: octal file mode on the host")
    .option("--path <path>", "a new secret: extra absolute path where it appears")
    .option("--restart-unit <unit>", "a new secret: unit to restart when it changes (repeatable)", collect)
    .option("--reload-unit <unit>", "a new secret: unit to reload when it changes (repeatable)", collect)
    .addHelpText(
      "after",
      `
The value is written to a private 0700 directory on a tmpfs ($XDG_RUNTIME_DIR or
/dev/shm; NIXSEAL_EDIT_DIR to choose) and opened with $VISUAL or $EDITOR. Saving
unchanged content writes nothing; an editor exiting non-zero changes nothing.

A name that is not in the repo yet is created from what you save (an empty save creates
nothing); give its hosts with --host, and its metadata as for secrets add.

Examples:
  EDITOR=nano nixseal secrets edit db-password
  nixseal secrets edit smtp-password --host web1,web2 --owner postfix`,
    )
    .action((name: string, opts: EditOptions) => editSecret(ctx.io, name, opts));

  secrets
    .command("cat")
    .description("print a secret's value")
    .argument("<name>", "secret name")
    .option("-i, --identity <file>", "admin identity to decrypt with")
    .action((name: string, opts: { identity?: string }) => catSecret(ctx.io, name, opts));

  secrets
    .command("show")
    .description("show a secret's metadata, or with --public the public half of a generated key pair")
    .argument("<name>", "secret name")
    .option("--public", "print only the public key (ssh-ed25519: an authorized_keys line; wireguard: base64)")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      `
Examples:
  nixseal secrets show deploy-key --public >> ~/.ssh/authorized_keys
  nixseal secrets show wg0.key --public      # the peer's PublicKey = …`,
    )
    .action((name: string, opts: { public?: boolean; json?: boolean }) => showSecret(ctx.io, name, opts));

  secrets
    .command("list")
    .description("list secrets (never their values)")
    .option("--host <name>", "only the secrets of this host")
    .option("--json", "machine-readable output")
    .action((opts: { host?: string; json?: boolean }) => listSecrets(ctx.io, opts));

  secrets
    .command("rm")
    .description("remove a secret from the repo")
    .argument("<name>", "secret name")
    .action((name: string) => removeSecret(ctx.io, name));

  secrets
    .command("rename")
    .description("give a secret a new name (its value, hosts and metadata stay)")
    .argument("<old>", "current name (also one an earlier nixseal allowed, e.g. with + or @)")
    .argument("<new>", "new name (letters, digits, . _ -)")
    .addHelpText(
      "after",
      `
The encrypted file moves to secrets/NEW.age unchanged: nothing is decrypted or
re-encrypted. On each host the secret appears under the new name after the next
deploy, which also rebuilds NixOS hosts for it (their <name>-key.service changes).

Example:
  nixseal secrets rename db+password db-password`,
    )
    .action((from: string, to: string) => renameSecret(ctx.io, from, to));

  secrets
    .command("set")
    .description("change a secret's metadata (re-encrypts when its hosts change)")
    .argument("<name>", "secret name")
    .option("--host <a,b>", "replace its hosts (repeatable, comma-separated)", collect)
    .option("--add-host <name>", "add a host (repeatable)", collect)
    .option("--rm-host <name>", "remove a host (repeatable)", collect)
    .option("--owner <user>", "owner of the file on the host")
    .option("--group <group>", "group of the file on the host")
    .option("--mode <mode>", "octal file mode on the host")
    .option("--path <path>", "extra absolute path where the secret appears")
    .option("--no-path", "remove the extra path")
    .option("--restart-unit <unit>", "replace the units to restart (repeatable; \"\" for none)", collect)
    .option("--reload-unit <unit>", "replace the units to reload (repeatable; \"\" for none)", collect)
    .option("--needed-by <unit>", "NixOS: replace the units that need it (repeatable; \"\" for none)", collect)
    .option("--needed-for-users", "NixOS: restore it before users are created (root-owned)")
    .option("--no-needed-for-users", "NixOS: restore it with the other secrets")
    .option("--allow-world-readable", "allow a mode that gives others access")
    .option("-i, --identity <file>", "admin identity to decrypt with (needed when hosts change)")
    .addHelpText(
      "after",
      `
Examples:
  nixseal secrets set db-password --add-host web3
  nixseal secrets set tls.key --owner nginx --group nginx --mode 0440`,
    )
    .action((name: string, opts: SetOptions) => setSecret(ctx.io, name, opts));
}

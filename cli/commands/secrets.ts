import { mkdir, unlink } from "node:fs/promises";
import type { Command } from "commander";
import { NixsealError, writeFileAtomic, type Repo, type RepoSecret } from "../../core/index.js";
import { editValue } from "../editor.js";
import { loadAdminIdentity, type AdminIdentity } from "../identity/index.js";
import type { CliIo } from "../io.js";
import { checkMode } from "../mode-policy.js";
import { printInfo, printJson, printWarning } from "../output.js";
import { rekey, rekeySecrets } from "../rekey/index.js";
import { decryptSecret, encryptSecret } from "../repo/crypt.js";
import { isStale, openRepo, saveRepo, secretFile, secretsDir, withLockedRepo, type LoadedRepo } from "../repo/index.js";
import { checkHostName, checkPath, checkPrincipal, checkSecretName, checkUnit } from "../repo/validate.js";
import { readValue, type ValueOptions } from "../values.js";
import { unknownHost } from "./host.js";
import type { CommandContext } from "./context.js";

/** Accumulates repeatable, comma-separated options: --host a,b --host c. */
const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(",").filter((v) => v !== "")];

interface MetaOpts {
  owner?: string;
  group?: string;
  mode?: string;
  path?: string | false;
  restartUnit?: string[];
  reloadUnit?: string[];
  allowWorldReadable?: boolean;
}

const VALUE_HELP = `
The value comes from stdin (piped, or typed without echo on a terminal), from
--from-file F, or from --generate BYTES (random; --encoding base64|hex|alnum,
default base64; for alnum BYTES is the number of characters). Never from the
command line, where other users and shell history would see it.`;

/** `nixseal secrets add|rotate|rekey|edit|cat|list|rm|set`. */
export function registerSecrets(program: Command, ctx: CommandContext): void {
  const secrets = program.command("secrets").description("add, rotate, re-encrypt, edit and read secrets");

  secrets
    .command("add")
    .description("add a secret for some hosts")
    .argument("<name>", "secret name (file name on the host: letters, digits, . _ @ + -)")
    .requiredOption("--host <a,b>", "hosts that receive it (repeatable, comma-separated)", collect)
    .option("--owner <user>", "owner of the file on the host", "root")
    .option("--group <group>", "group of the file on the host", "root")
    .option("--mode <mode>", "octal file mode on the host", "0400")
    .option("--path <path>", "extra absolute path where the secret appears (a symlink)")
    .option("--restart-unit <unit>", "systemd unit to restart when the value changes (repeatable)", collect)
    .option("--reload-unit <unit>", "systemd unit to reload when the value changes (repeatable)", collect)
    .option("--from-file <file>", "read the value from this file")
    .option("--generate <bytes>", "generate a random value of this many bytes")
    .option("--encoding <encoding>", "with --generate: base64 (default), hex or alnum")
    .option("--allow-world-readable", "allow a mode that gives others access (e.g. 0444)")
    .addHelpText(
      "after",
      VALUE_HELP +
        `

Examples:
  printf %s "$DB_PASSWORD" | nixseal secrets add db-password --host web1,web2 --owner postgres --mode 0400
  nixseal secrets add tls.key --host web1 --from-file ./web1.key --owner nginx --restart-unit nginx.service
  nixseal secrets add session-secret --host web1 --generate 32 --encoding hex`,
    )
    .action(async (name: string, opts: MetaOpts & ValueOptions & { host: string[] }) => {
      const { io } = ctx;
      checkSecretName(name);
      const hosts = checkHosts(opts.host);
      const meta = checkMeta(io, opts);
      const before = await openRepo(io.cwd);
      if (before.repo.secrets[name]) throw secretExists(name);
      for (const h of hosts) if (!before.repo.hosts[h]) throw unknownHost(h);
      const { value, generated } = await readValue(io, opts);
      try {
        const version = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
          if (repo.secrets[name]) throw secretExists(name);
          for (const h of hosts) if (!repo.hosts[h]) throw unknownHost(h);
          const secret: RepoSecret = {
            hosts,
            owner: meta.owner ?? "root",
            group: meta.group ?? "root",
            mode: meta.mode ?? "0400",
            restartUnits: meta.restartUnits ?? [],
            reloadUnits: meta.reloadUnits ?? [],
            version: 1,
            updatedAt: now(),
          };
          if (meta.path) secret.path = meta.path;
          if (generated) secret.generate = generated;
          repo.secrets[name] = secret;
          await writeEncrypted(dir, repo, name, value);
          await saveRepo(dir, repo);
          return secret.version;
        });
        printInfo(io, `added ${name} (version ${version}) for ${hosts.join(", ")}`);
      } finally {
        value.fill(0);
      }
    });

  secrets
    .command("rotate")
    .description("give a secret a new value (version +1)")
    .argument("<name>", "secret name")
    .option("--from-file <file>", "read the new value from this file")
    .option("--generate <bytes>", "generate a random value of this many bytes")
    .option("--encoding <encoding>", "with --generate: base64 (default), hex or alnum")
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
    .action(async (name: string, opts: ValueOptions & { stdin?: boolean }) => {
      const { io } = ctx;
      checkSecretName(name);
      const before = await openRepo(io.cwd);
      const old = before.repo.secrets[name];
      if (!old) throw unknownSecret(name);
      const fallback = opts.stdin ? undefined : old.generate;
      const { value, generated } = await readValue(io, opts, fallback);
      try {
        const version = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
          const s = repo.secrets[name];
          if (!s) throw unknownSecret(name);
          s.version += 1;
          s.updatedAt = now();
          if (generated) s.generate = generated;
          else delete s.generate;
          await writeEncrypted(dir, repo, name, value);
          await saveRepo(dir, repo);
          return s.version;
        });
        printInfo(io, `rotated ${name} (version ${version})`);
      } finally {
        value.fill(0);
      }
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
    .action(async (names: string[], opts: { all?: boolean; dryRun?: boolean; identity?: string }) => {
      const { io } = ctx;
      names.forEach(checkSecretName);
      const nothing = "every secret is encrypted to its current recipients; nothing to do";
      if (opts.dryRun) {
        const todo = pickRekey((await openRepo(io.cwd)).repo, names, opts.all);
        for (const n of todo) io.stdout.write(`${n}\n`);
        printInfo(io, todo.length === 0 ? nothing : `${todo.length} to re-encrypt (dry run)`);
        return;
      }
      // One load of nixseal.json, under the lock (a large repo costs ~0.1 s to validate);
      // the admin identity is loaded only when there is something to do.
      let t0 = 0;
      const done = await withLockedRepo(io.cwd, async (loaded) => {
        const list = pickRekey(loaded.repo, names, opts.all);
        if (list.length === 0) return null;
        const admin = await loadAdminIdentity(io, opts.identity);
        t0 = performance.now();
        const outcome = await rekey(loaded, list, admin, { full: opts.all });
        await saveRepo(loaded.dir, loaded.repo);
        return outcome;
      });
      if (done === null) return printInfo(io, nothing);
      // Why a changed set took the full path, one line per reason (a few names each).
      const byReason = new Map<string, string[]>();
      for (const { name, reason } of done.reasons) byReason.set(reason, [...(byReason.get(reason) ?? []), name]);
      for (const [reason, list] of byReason) {
        printInfo(io, `full re-encryption of ${list.length} (${list.slice(0, 5).join(", ")}${list.length > 5 ? ", …" : ""}): ${reason}`);
      }
      const n = done.names.length;
      printInfo(
        io,
        `re-encrypted ${n} secret${n === 1 ? "" : "s"} in ${Math.round(performance.now() - t0)} ms: ${done.added.length} by adding recipients (file key and payload kept), ${done.full.length} in full (fresh file key)`,
      );
    });

  secrets
    .command("edit")
    .description("edit a secret's value in $EDITOR (cleartext only on a tmpfs, removed afterwards)")
    .argument("<name>", "secret name")
    .option("-i, --identity <file>", "admin identity to decrypt with")
    .addHelpText(
      "after",
      `
The value is written to a private 0700 directory on a tmpfs ($XDG_RUNTIME_DIR or
/dev/shm; NIXSEAL_EDIT_DIR to choose) and opened with $VISUAL or $EDITOR. Saving
unchanged content writes nothing; an editor exiting non-zero changes nothing.

Example:
  EDITOR=nano nixseal secrets edit db-password`,
    )
    .action(async (name: string, opts: { identity?: string }) => {
      const { io } = ctx;
      checkSecretName(name);
      const before = await openRepo(io.cwd);
      if (!before.repo.secrets[name]) throw unknownSecret(name);
      const admin = await loadAdminIdentity(io, opts.identity);
      // The lock is held while the editor runs, so nobody rotates the value underneath.
      const result = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
        const s = repo.secrets[name];
        if (!s) throw unknownSecret(name);
        const current = await decryptSecret(dir, name, admin.identities, admin.source);
        let edited: Buffer | null = null;
        try {
          edited = await editValue(io, name, current);
          if (!edited) return null;
          s.version += 1;
          s.updatedAt = now();
          delete s.generate;
          await writeEncrypted(dir, repo, name, edited);
          await saveRepo(dir, repo);
          return s.version;
        } finally {
          current.fill(0);
          edited?.fill(0);
        }
      });
      printInfo(io, result === null ? `${name} unchanged; nothing written` : `updated ${name} (version ${result})`);
    });

  secrets
    .command("cat")
    .description("print a secret's value")
    .argument("<name>", "secret name")
    .option("-i, --identity <file>", "admin identity to decrypt with")
    .action(async (name: string, opts: { identity?: string }) => {
      const { io } = ctx;
      checkSecretName(name);
      const { dir, repo } = await openRepo(io.cwd);
      if (!repo.secrets[name]) throw unknownSecret(name);
      const admin = await loadAdminIdentity(io, opts.identity);
      const value = await decryptSecret(dir, name, admin.identities, admin.source);
      // Not zeroed afterwards: the stream may still hold this very buffer.
      await new Promise<void>((resolve, reject) => io.stdout.write(value, (err) => (err ? reject(err) : resolve())));
    });

  secrets
    .command("list")
    .description("list secrets (never their values)")
    .option("--host <name>", "only the secrets of this host")
    .option("--json", "machine-readable output")
    .action(async (opts: { host?: string; json?: boolean }) => {
      const { repo } = await openRepo(ctx.io.cwd);
      if (opts.host !== undefined && !repo.hosts[opts.host]) throw unknownHost(opts.host);
      const rows = Object.keys(repo.secrets)
        .sort()
        .filter((n) => opts.host === undefined || repo.secrets[n]!.hosts.includes(opts.host))
        .map((n) => {
          const s = repo.secrets[n]!;
          return { name: n, hosts: s.hosts, owner: s.owner, group: s.group, mode: s.mode, path: s.path ?? null, restartUnits: s.restartUnits, reloadUnits: s.reloadUnits, version: s.version, updatedAt: s.updatedAt, generate: s.generate ?? null, needsRekey: staleOrBroken(repo, n) };
        });
      if (opts.json) return printJson(ctx.io, rows);
      for (const r of rows) {
        ctx.io.stdout.write(`${r.name}\tv${r.version}\t${r.mode} ${r.owner}:${r.group}\t${r.hosts.join(",") || "-"}${r.needsRekey ? "\t(needs rekey)" : ""}\n`);
      }
    });

  secrets
    .command("rm")
    .description("remove a secret from the repo")
    .argument("<name>", "secret name")
    .action(async (name: string) => {
      const { io } = ctx;
      checkSecretName(name);
      await withLockedRepo(io.cwd, async ({ dir, repo }) => {
        if (!repo.secrets[name]) throw unknownSecret(name);
        delete repo.secrets[name];
        // Metadata first: a leftover blob is harmless, a listed secret without one is not.
        await saveRepo(dir, repo);
        await unlink(secretFile(dir, name)).catch(() => {});
      });
      printInfo(io, `removed ${name}; hosts drop it at their next deploy (git history still holds the old ciphertext)`);
    });

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
    .option("--allow-world-readable", "allow a mode that gives others access")
    .option("-i, --identity <file>", "admin identity to decrypt with (needed when hosts change)")
    .addHelpText(
      "after",
      `
Examples:
  nixseal secrets set db-password --add-host web3
  nixseal secrets set tls.key --owner nginx --group nginx --mode 0440`,
    )
    .action(async (name: string, opts: MetaOpts & { host?: string[]; addHost?: string[]; rmHost?: string[]; identity?: string }) => {
      const { io } = ctx;
      checkSecretName(name);
      const meta = checkMeta(io, opts);
      const hostEdits = { set: opts.host && checkHosts(opts.host, true), add: opts.addHost && checkHosts(opts.addHost), rm: opts.rmHost && checkHosts(opts.rmHost) };
      const before = await openRepo(io.cwd);
      const planned = applyHostEdits(before.repo, name, hostEdits);
      const hostsChange = !sameSet(planned, before.repo.secrets[name]!.hosts);
      if (!hostsChange && Object.values(meta).every((v) => v === undefined) && opts.path === undefined) {
        throw new NixsealError("NIXSEAL_ERR_USAGE", "nothing to change", { hints: ["give --owner, --group, --mode, --path, --host/--add-host/--rm-host or units"], exitCode: 2 });
      }
      const admin: AdminIdentity | undefined = hostsChange ? await loadAdminIdentity(io, opts.identity) : undefined;
      const rekeyed = await withLockedRepo(io.cwd, async (loaded) => {
        const s = loaded.repo.secrets[name];
        if (!s) throw unknownSecret(name);
        const hosts = applyHostEdits(loaded.repo, name, hostEdits);
        const changed = !sameSet(hosts, s.hosts);
        s.hosts = hosts;
        if (meta.owner !== undefined) s.owner = meta.owner;
        if (meta.group !== undefined) s.group = meta.group;
        if (meta.mode !== undefined) s.mode = meta.mode;
        if (meta.path) s.path = meta.path;
        if (opts.path === false) delete s.path;
        if (meta.restartUnits) s.restartUnits = meta.restartUnits;
        if (meta.reloadUnits) s.reloadUnits = meta.reloadUnits;
        // Only this command's host change re-encrypts; an older staleness is for "secrets rekey".
        const done = changed ? await rekeySecrets(loaded, [name], admin ?? (await loadAdminIdentity(io, opts.identity))) : [];
        await saveRepo(loaded.dir, loaded.repo);
        return done.length > 0;
      });
      printInfo(io, `updated ${name}${rekeyed ? " and re-encrypted it to its hosts" : ""}`);
    });
}

/** Validated metadata options; undefined means "not given". */
function checkMeta(io: CliIo, opts: MetaOpts): { owner?: string; group?: string; mode?: string; path?: string; restartUnits?: string[]; reloadUnits?: string[] } {
  const out: ReturnType<typeof checkMeta> = {};
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
  return out;
}

function checkHosts(list: string[], allowEmpty = false): string[] {
  const hosts = [...new Set(list.map(checkHostName))];
  if (!allowEmpty && hosts.length === 0) {
    throw new NixsealError("NIXSEAL_ERR_USAGE", "no host given", { hints: ["--host web1,web2"], exitCode: 2 });
  }
  return hosts;
}

function applyHostEdits(repo: Repo, name: string, e: { set?: string[]; add?: string[]; rm?: string[] }): string[] {
  const s = repo.secrets[name];
  if (!s) throw unknownSecret(name);
  let hosts = e.set ?? [...s.hosts];
  for (const h of [...(e.set ?? []), ...(e.add ?? [])]) if (!repo.hosts[h]) throw unknownHost(h);
  for (const h of e.rm ?? []) {
    if (!hosts.includes(h)) throw new NixsealError("NIXSEAL_ERR_UNKNOWN_HOST", `secret "${name}" is not for host "${h}"`, { hints: [`its hosts: ${hosts.join(", ") || "none"}`] });
  }
  hosts = [...new Set([...hosts, ...(e.add ?? [])])].filter((h) => !(e.rm ?? []).includes(h));
  return hosts;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function pickRekey(repo: Repo, names: string[], all?: boolean): string[] {
  for (const n of names) if (!repo.secrets[n]) throw unknownSecret(n);
  const pool = names.length ? names : Object.keys(repo.secrets).sort();
  return all ? pool : pool.filter((n) => isStale(repo, n));
}

function staleOrBroken(repo: Repo, name: string): boolean {
  try {
    return isStale(repo, name);
  } catch {
    return true;
  }
}

/** Encrypts to the secret's current recipients, writes the blob (temp + rename), records encryptedTo. */
async function writeEncrypted(dir: string, repo: Repo, name: string, value: Uint8Array): Promise<void> {
  const { ciphertext, encryptedTo } = await encryptSecret(repo, name, value);
  await mkdir(secretsDir(dir), { recursive: true });
  await writeFileAtomic(secretFile(dir, name), ciphertext, 0o644);
  repo.secrets[name]!.encryptedTo = encryptedTo;
}

function now(): string {
  return new Date().toISOString();
}

function secretExists(name: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_SECRET_EXISTS", `secret "${name}" already exists`, {
    hints: [`to give it a new value: nixseal secrets rotate ${name}; to change its hosts: nixseal secrets set ${name} --add-host H`],
  });
}

function unknownSecret(name: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_UNKNOWN_SECRET", `no secret named "${name}"`, {
    hints: ['run "nixseal secrets list" to see them', `or add it: nixseal secrets add ${name} --host H`],
  });
}

export type { LoadedRepo };

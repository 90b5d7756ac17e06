import type { Command } from "commander";
import { formatAddress as hostAddress, NixsealError, sshFingerprint, type Repo, type RepoHost } from "../../core/index.js";
import { unknownHost, usageError } from "../errors.js";
import { scanHostKey } from "../host-scan.js";
import { loadAdminIdentity } from "../identity/index.js";
import type { CliIo } from "../io.js";
import { printInfo, printJson, printTable, printWarning } from "../output.js";
import { canPrompt, confirm } from "../prompt.js";
import { rekeySecrets } from "../rekey/index.js";
import { hostsOf, openRepo, parseTarget, saveRepo, secretsForHost, syncHostSecretsFiles, withLockedRepo } from "../repo/index.js";
import { checkHostKey, checkHostName, checkRootTarget, checkTag } from "../repo/validate.js";
import { selectHostNames } from "../repo/select.js";
import type { CommandContext } from "./context.js";

/** Accumulates repeatable, comma-separated options: --tag a,b --tag c. */
const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(",").filter((v) => v !== "")];

/** Tags checked, without a leading @, sorted and without repeats. */
function normaliseTags(tags: string[]): string[] {
  return [...new Set(tags.map(checkTag).map((t) => t.replace(/^@/, "")))].sort();
}

interface KeyOpts {
  key?: string;
  scan?: boolean;
  yes?: boolean;
}

/** `nixseal host add|list|rm|set-key|set|sync`. */
export function registerHost(program: Command, ctx: CommandContext): void {
  const host = program.command("host").description("register the hosts secrets are encrypted to");

  host
    .command("add")
    .description("register a host and its SSH host key")
    .argument("<name>", "host name (lowercase letters, digits, -)")
    .requiredOption("--target <user@address[:port]>", "how to reach it over SSH, e.g. root@192.0.2.10")
    .option("--key <line>", 'its SSH host public key, e.g. "ssh-ed25519 AAAA…"')
    .option("--scan", "read the host key from the target over SSH and ask you to confirm its fingerprint")
    .option("-y, --yes", "with --scan: accept the scanned key without asking")
    .option("--config <dir>", "its NixOS config dir in this repo (default hosts/NAME)")
    .option("--rebuild <command>", "rebuild command run on the host (default: nixos-rebuild switch)")
    .option("--ssh-key <file>", "SSH private key to log in with for deploys")
    .option("--tag <tag>", "a label to select it by (deploy @TAG); repeatable, comma-separated", collect)
    .addHelpText(
      "after",
      `
Deploy logs in as root (the agent's socket and /etc/nixos are root's): the target's user
must be root.

Examples:
  nixseal host add web1 --target root@192.0.2.10 --key "$(ssh root@192.0.2.10 cat /etc/ssh/ssh_host_ed25519_key.pub)"
  nixseal host add web2 --target root@192.0.2.11 --scan --tag web,eu
  nixseal host add web1 --target root@192.0.2.10:2222 --scan
  nixseal host add web1 --target root@192.0.2.10 --scan --yes   # scripts: accept what the host offers`,
    )
    .action(async (name: string, opts: KeyOpts & { target: string; config?: string; rebuild?: string; sshKey?: string; tag?: string[] }) => {
      const { io } = ctx;
      checkHostName(name);
      const target = checkRootTarget(parseTarget(opts.target));
      const tags = normaliseTags(opts.tag ?? []);
      // Read-only checks first, so a refusal changes nothing and asks nothing.
      const before = await openRepo(io.cwd);
      if (before.repo.hosts[name]) throw hostExists(name);
      const hostKey = await obtainKey(io, opts, opts.target, target);
      await withLockedRepo(io.cwd, async ({ dir, repo }) => {
        if (repo.hosts[name]) throw hostExists(name);
        warnSharedKey(io, repo, name, hostKey);
        const entry: RepoHost = { target: opts.target, hostKey };
        if (opts.config) entry.configDir = opts.config;
        if (opts.rebuild) entry.rebuild = opts.rebuild;
        if (opts.sshKey) entry.sshKey = opts.sshKey;
        if (tags.length) entry.tags = tags;
        repo.hosts[name] = entry;
        await saveRepo(dir, repo);
      });
      printInfo(io, `added host ${name} (${hostAddress(target)}, ${sshFingerprint(hostKey)})`);
    });

  host
    .command("list")
    .description("list hosts")
    .argument("[hosts...]", "only these: names, @tags, globs")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      `
One line per host under a header: name, target, host key fingerprint, number of secrets, tags.

Examples:
  nixseal host list
  nixseal host list @web --json`,
    )
    .action(async (selectors: string[], opts: { json?: boolean }) => {
      const { repo } = await openRepo(ctx.io.cwd);
      const names = selectors.length ? selectHostNames(repo, selectors) : hostsOf(repo);
      const rows = names.map((name) => {
        const h = repo.hosts[name]!;
        return { name, target: h.target, hostKey: h.hostKey, fingerprint: sshFingerprint(h.hostKey), configDir: h.configDir ?? `hosts/${name}`, rebuild: h.rebuild ?? null, sshKey: h.sshKey ?? null, tags: h.tags ?? [], secrets: secretsForHost(repo, name) };
      });
      if (opts.json) return printJson(ctx.io, rows);
      printTable(ctx.io, ["NAME", "TARGET", "HOST KEY", "SECRETS", "TAGS"], rows.map((r) => [r.name, r.target, r.fingerprint, `${r.secrets.length} secret${r.secrets.length === 1 ? "" : "s"}`, r.tags.map((t) => `@${t}`).join(",") || "-"]));
    });

  host
    .command("rm")
    .description("remove a host (and take it off every secret's host list)")
    .argument("<name>", "host name")
    .action(async (name: string) => {
      const { io } = ctx;
      const affected = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
        if (!repo.hosts[name]) throw unknownHost(name, repo);
        const names = secretsForHost(repo, name);
        for (const s of names) repo.secrets[s]!.hosts = repo.secrets[s]!.hosts.filter((h) => h !== name);
        for (const t of Object.values(repo.templates ?? {})) t.hosts = t.hosts.filter((h) => h !== name);
        delete repo.hosts[name];
        await saveRepo(dir, repo);
        return names;
      });
      printInfo(io, `removed host ${name}`);
      if (affected.length) {
        printWarning(io, `${affected.length} secret${affected.length === 1 ? " is" : "s are"} still encrypted to its key: ${affected.join(", ")}`);
        printInfo(io, 'hint: run "nixseal secrets rekey" to re-encrypt them without it (and rotate them if the host is not trusted)');
      }
    });

  host
    .command("set-key")
    .description("a host's SSH host key changed: record the new one and re-encrypt its secrets")
    .argument("<name>", "host name")
    .option("--key <line>", "the new SSH host public key")
    .option("--scan", "read the new key from the host over SSH (asks you to confirm)")
    .option("-y, --yes", "with --scan: accept without asking")
    .option("-i, --identity <file>", "admin identity to decrypt with (age identity file or SSH private key)")
    .action(async (name: string, opts: KeyOpts & { identity?: string }) => {
      const { io } = ctx;
      const before = await openRepo(io.cwd);
      const h = before.repo.hosts[name];
      if (!h) throw unknownHost(name, before.repo);
      const secrets = secretsForHost(before.repo, name);
      const admin = secrets.length ? await loadAdminIdentity(io, opts.identity) : undefined;
      const hostKey = await obtainKey(io, opts, h.target, parseTarget(h.target));
      const done = await withLockedRepo(io.cwd, async (loaded) => {
        const entry = loaded.repo.hosts[name];
        if (!entry) throw unknownHost(name, loaded.repo);
        entry.hostKey = hostKey;
        const names = secretsForHost(loaded.repo, name);
        if (names.length) await rekeySecrets(loaded, names, admin ?? (await loadAdminIdentity(io, opts.identity)));
        await saveRepo(loaded.dir, loaded.repo);
        return names;
      });
      printInfo(io, `host ${name} now has key ${sshFingerprint(hostKey)}; re-encrypted ${done.length} secret${done.length === 1 ? "" : "s"}`);
    });

  host
    .command("set")
    .description("change how a host is reached or rebuilt, and its tags")
    .argument("<name>", "host name")
    .option("--target <user@address[:port]>", "new SSH target")
    .option("--config <dir>", "its NixOS config dir in this repo")
    .option("--rebuild <command>", "rebuild command run on the host")
    .option("--ssh-key <file>", "SSH private key for deploys")
    .option("--tag <tag>", "add a tag (repeatable, comma-separated)", collect)
    .option("--untag <tag>", "remove a tag (repeatable, comma-separated)", collect)
    .addHelpText(
      "after",
      `
Examples:
  nixseal host set web1 --target root@192.0.2.20
  nixseal host set web1 --rebuild 'nixos-rebuild switch --flake /etc/nixos#web1'
  nixseal host set web1 --tag web,eu --untag staging`,
    )
    .action(async (name: string, opts: { target?: string; config?: string; rebuild?: string; sshKey?: string; tag?: string[]; untag?: string[] }) => {
      const { io } = ctx;
      if (opts.target !== undefined) checkRootTarget(parseTarget(opts.target), name);
      const add = normaliseTags(opts.tag ?? []);
      const remove = normaliseTags(opts.untag ?? []);
      if (![opts.target, opts.config, opts.rebuild, opts.sshKey, opts.tag, opts.untag].some((v) => v !== undefined)) {
        throw usageError("nothing to set", ["give --target, --config, --rebuild, --ssh-key, --tag or --untag"]);
      }
      await withLockedRepo(io.cwd, async ({ dir, repo }) => {
        const h = repo.hosts[name];
        if (!h) throw unknownHost(name, repo);
        if (opts.target !== undefined) h.target = opts.target;
        if (opts.config !== undefined) h.configDir = opts.config;
        if (opts.rebuild !== undefined) h.rebuild = opts.rebuild;
        if (opts.sshKey !== undefined) h.sshKey = opts.sshKey;
        for (const t of remove) {
          if (!(h.tags ?? []).includes(t)) throw usageError(`host "${name}" has no tag "${t}"`, [`its tags: ${(h.tags ?? []).map((x) => `@${x}`).join(", ") || "none"}`]);
        }
        const tags = [...new Set([...(h.tags ?? []), ...add])].filter((t) => !remove.includes(t)).sort();
        if (tags.length) h.tags = tags;
        else delete h.tags;
        await saveRepo(dir, repo);
      });
      printInfo(io, `updated host ${name}`);
    });

  host
    .command("sync")
    .description("write each host's nixseal-secrets.json (what its NixOS system is built for) from nixseal.json")
    .argument("[names...]", "hosts whose config dir to create if missing (default: only hosts that have one)")
    .addHelpText(
      "after",
      `
Every command that changes a host's secrets rewrites <config dir>/nixseal-secrets.json
of each host that has a config dir (hosts/NAME unless set with --config); the NixOS
module reads it (services.nixseal.secretsFile = ./nixseal-secrets.json;). Run this
after creating a host's config dir, or when deploy says the file is out of date.

Examples:
  nixseal host sync            # every host that has a config dir
  nixseal host sync web1       # also creates hosts/web1/`,
    )
    .action(async (names: string[]) => {
      const { io } = ctx;
      const written = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
        for (const n of names) if (!repo.hosts[n]) throw unknownHost(n);
        return syncHostSecretsFiles(dir, repo, { create: names });
      });
      for (const f of written) printInfo(io, `wrote ${f}`);
      if (written.length === 0) printInfo(io, "every host's nixseal-secrets.json is up to date");
    });
}

/** The host key from --key, or from --scan with the operator's confirmation. */
export async function obtainKey(io: CliIo, opts: KeyOpts, targetText: string, target: ReturnType<typeof parseTarget>): Promise<string> {
  if (Boolean(opts.key) === Boolean(opts.scan)) {
    throw usageError("give the host key one way: --key LINE or --scan", ['--key "$(cat /etc/ssh/ssh_host_ed25519_key.pub)" (from the host) or --scan to read it over SSH']);
  }
  if (opts.key) return checkHostKey(opts.key, "--key");
  const scanned = await checkHostKey(await scanHostKey(target), `host key of ${targetText}`);
  const fingerprint = sshFingerprint(scanned);
  printInfo(io, `${hostAddress(target)} offers ${scanned.split(" ")[0]} key ${fingerprint}`);
  if (opts.yes) return scanned;
  if (!canPrompt(io)) {
    throw new NixsealError("NIXSEAL_ERR_CONFIRM_REQUIRED", "not accepting a scanned host key without confirmation (no terminal)", {
      hints: [
        "compare the fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the host",
        "then run again with --yes, or pass the key with --key",
      ],
    });
  }
  if (!(await confirm(io, `is ${fingerprint} the host key of ${hostAddress(target)}?`))) {
    throw new NixsealError("NIXSEAL_ERR_CONFIRM_REQUIRED", "host key not accepted; nothing changed");
  }
  return scanned;
}

function warnSharedKey(io: CliIo, repo: Repo, name: string, hostKey: string): void {
  const fp = sshFingerprint(hostKey);
  for (const other of hostsOf(repo)) {
    if (other !== name && sshFingerprint(repo.hosts[other]!.hostKey) === fp) {
      printWarning(io, `host ${other} has the same host key (${fp}); each can decrypt the other's secrets`);
    }
  }
}

function hostExists(name: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_HOST_EXISTS", `host "${name}" is already registered`, {
    hints: [`to change its key: nixseal host set-key ${name} --scan; to change its target: nixseal host set ${name} --target …`],
  });
}

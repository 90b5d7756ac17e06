import type { Command } from "commander";
import { NixsealError, sshFingerprint, type Repo, type RepoHost } from "../../core/index.js";
import { unknownHost } from "../errors.js";
import { host as hostAddress } from "../repo/format-target.js";
import { scanHostKey } from "../host-scan.js";
import { loadAdminIdentity } from "../identity/index.js";
import type { CliIo } from "../io.js";
import { printInfo, printJson, printWarning } from "../output.js";
import { canPrompt, confirm } from "../prompt.js";
import { rekeySecrets } from "../rekey/index.js";
import { hostsOf, openRepo, parseTarget, saveRepo, secretsForHost, withLockedRepo } from "../repo/index.js";
import { checkHostKey, checkHostName } from "../repo/validate.js";
import type { CommandContext } from "./context.js";

export interface KeyOpts {
  key?: string;
  scan?: boolean;
  yes?: boolean;
}

/** `nixseal host add|list|rm|set-key|set`. */
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
    .addHelpText(
      "after",
      `
Examples:
  nixseal host add web1 --target root@192.0.2.10 --key "$(ssh root@192.0.2.10 cat /etc/ssh/ssh_host_ed25519_key.pub)"
  nixseal host add web1 --target root@192.0.2.10:2222 --scan
  nixseal host add web1 --target root@192.0.2.10 --scan --yes   # scripts: accept what the host offers`,
    )
    .action(async (name: string, opts: KeyOpts & { target: string; config?: string; rebuild?: string; sshKey?: string }) => {
      const { io } = ctx;
      checkHostName(name);
      const target = parseTarget(opts.target);
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
        repo.hosts[name] = entry;
        await saveRepo(dir, repo);
      });
      printInfo(io, `added host ${name} (${hostAddress(target)}, ${sshFingerprint(hostKey)})`);
    });

  host
    .command("list")
    .description("list hosts")
    .option("--json", "machine-readable output")
    .action(async (opts: { json?: boolean }) => {
      const { repo } = await openRepo(ctx.io.cwd);
      const rows = hostsOf(repo).map((name) => {
        const h = repo.hosts[name]!;
        return { name, target: h.target, hostKey: h.hostKey, fingerprint: sshFingerprint(h.hostKey), configDir: h.configDir ?? `hosts/${name}`, rebuild: h.rebuild ?? null, sshKey: h.sshKey ?? null, secrets: secretsForHost(repo, name) };
      });
      if (opts.json) return printJson(ctx.io, rows);
      for (const r of rows) ctx.io.stdout.write(`${r.name}\t${r.target}\t${r.fingerprint}\t${r.secrets.length} secret${r.secrets.length === 1 ? "" : "s"}\n`);
    });

  host
    .command("rm")
    .description("remove a host (and take it off every secret's host list)")
    .argument("<name>", "host name")
    .action(async (name: string) => {
      const { io } = ctx;
      const affected = await withLockedRepo(io.cwd, async ({ dir, repo }) => {
        if (!repo.hosts[name]) throw unknownHost(name);
        const names = secretsForHost(repo, name);
        for (const s of names) repo.secrets[s]!.hosts = repo.secrets[s]!.hosts.filter((h) => h !== name);
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
      if (!h) throw unknownHost(name);
      const secrets = secretsForHost(before.repo, name);
      const admin = secrets.length ? await loadAdminIdentity(io, opts.identity) : undefined;
      const hostKey = await obtainKey(io, opts, h.target, parseTarget(h.target));
      const done = await withLockedRepo(io.cwd, async (loaded) => {
        const entry = loaded.repo.hosts[name];
        if (!entry) throw unknownHost(name);
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
    .description("change how a host is reached or rebuilt")
    .argument("<name>", "host name")
    .option("--target <user@address[:port]>", "new SSH target")
    .option("--config <dir>", "its NixOS config dir in this repo")
    .option("--rebuild <command>", "rebuild command run on the host")
    .option("--ssh-key <file>", "SSH private key for deploys")
    .action(async (name: string, opts: { target?: string; config?: string; rebuild?: string; sshKey?: string }) => {
      const { io } = ctx;
      if (opts.target !== undefined) parseTarget(opts.target);
      if (![opts.target, opts.config, opts.rebuild, opts.sshKey].some((v) => v !== undefined)) {
        throw new NixsealError("NIXSEAL_ERR_USAGE", "nothing to set", { hints: ["give --target, --config, --rebuild or --ssh-key"], exitCode: 2 });
      }
      await withLockedRepo(io.cwd, async ({ dir, repo }) => {
        const h = repo.hosts[name];
        if (!h) throw unknownHost(name);
        if (opts.target !== undefined) h.target = opts.target;
        if (opts.config !== undefined) h.configDir = opts.config;
        if (opts.rebuild !== undefined) h.rebuild = opts.rebuild;
        if (opts.sshKey !== undefined) h.sshKey = opts.sshKey;
        await saveRepo(dir, repo);
      });
      printInfo(io, `updated host ${name}`);
    });
}

/** The host key from --key, or from --scan with the operator's confirmation. */
export async function obtainKey(io: CliIo, opts: KeyOpts, targetText: string, target: ReturnType<typeof parseTarget>): Promise<string> {
  if (Boolean(opts.key) === Boolean(opts.scan)) {
    throw new NixsealError("NIXSEAL_ERR_USAGE", "give the host key one way: --key LINE or --scan", {
      hints: ['--key "$(cat /etc/ssh/ssh_host_ed25519_key.pub)" (from the host) or --scan to read it over SSH'],
      exitCode: 2,
    });
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

// `nixseal import nixops STATE`: the state's machines become hosts, its stored keys
// become secrets encrypted to the pinned host keys (plus the admins), each with the
// owner, group, mode and path NixOps gave it. Values are never printed; a refusal
// changes nothing.
import { mkdir } from "node:fs/promises";
import { NixsealError, sshFingerprint, writeFileAtomic, type Repo } from "../../../core/index.js";
import { obtainKey } from "../../commands/host.js";
import type { CliIo } from "../../io.js";
import { printInfo, printWarning } from "../../output.js";
import { encryptSecret } from "../../repo/crypt.js";
import { openRepo, parseTarget, saveRepo, secretFile, secretsDir, withLockedRepo } from "../../repo/index.js";
import { checkHostKey } from "../../repo/validate.js";
import { planNixopsImport, type NixopsPlan, type PlannedHost } from "./plan.js";
import { readNixopsState } from "./state-file.js";
import { usageError } from "../../errors.js";

interface NixopsImportOptions {
  deployment?: string;
  renames: Map<string, string>;
  /** --host-key NAME=LINE: a key for a host NixOps recorded none for (or to override it). */
  hostKeys: Map<string, string>;
  scan?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  allowWorldReadable?: boolean;
}

function conflicts(repo: Repo, plan: NixopsPlan): void {
  for (const h of plan.hosts) {
    if (repo.hosts[h.name]) {
      throw new NixsealError("NIXSEAL_ERR_HOST_EXISTS", `host ${h.name} (machine ${h.machine}) is already in this repo`, {
        hints: [`import it under another name: --rename ${h.machine}=NEW, or remove it first: nixseal host rm ${h.name}`],
      });
    }
  }
  for (const s of plan.secrets) {
    if (repo.secrets[s.name]) {
      throw new NixsealError("NIXSEAL_ERR_SECRET_EXISTS", `secret ${s.name} is already in this repo`, {
        hints: [`import the key under another name: --rename MACHINE:${s.name}=NEW, or remove it first: nixseal secrets rm ${s.name}`],
      });
    }
  }
}

function describeSecret(s: NixopsPlan["secrets"][number]): string {
  return `${s.name}  ${s.owner}:${s.group} ${s.mode}  hosts ${s.hosts.join(",")}${s.path ? `  path ${s.path}` : ""}`;
}

/** Host keys for every planned host: --host-key, else what NixOps recorded, else --scan. */
async function pinKeys(io: CliIo, plan: NixopsPlan, opts: NixopsImportOptions): Promise<Map<string, string>> {
  for (const name of opts.hostKeys.keys()) {
    if (!plan.hosts.some((h) => h.name === name)) {
      throw usageError(`--host-key ${name}=…: the deployment has no machine that becomes host ${name}`, [`hosts: ${plan.hosts.map((h) => h.name).join(", ")}`]);
    }
  }
  const keys = new Map<string, string>();
  const unpinned: PlannedHost[] = [];
  for (const h of plan.hosts) {
    const given = opts.hostKeys.get(h.name);
    if (given !== undefined) keys.set(h.name, await checkHostKey(given, `--host-key ${h.name}`));
    else if (h.hostKey) keys.set(h.name, await checkHostKey(h.hostKey.line, `host key of machine ${h.machine} (${h.hostKey.from})`));
    else unpinned.push(h);
  }
  if (unpinned.length && !opts.scan) {
    for (const h of unpinned) printInfo(io, `host ${h.name}: NixOps recorded no host key for machine ${h.machine} (${h.type} backend); pin it with --scan (reads it from ${h.target}) or --host-key ${h.name}=LINE`);
    throw new NixsealError("NIXSEAL_ERR_HOST_KEY_NEEDED", `${unpinned.length} host${unpinned.length === 1 ? "" : "s"} without a host key: ${unpinned.map((h) => h.name).join(", ")}; nothing was changed`, {
      hints: ["run again with --scan (asks you to confirm each fingerprint; --yes in scripts), or give --host-key NAME=LINE from each host's /etc/ssh/ssh_host_ed25519_key.pub"],
    });
  }
  for (const h of unpinned) keys.set(h.name, await obtainKey(io, { scan: true, yes: opts.yes }, h.target, parseTarget(h.target)));
  return keys;
}

/**
 * Runs the import (or the dry run).
 *
 * @returns what was (or would be) created
 */
export async function importNixops(io: CliIo, file: string, opts: NixopsImportOptions): Promise<NixopsPlan> {
  const before = await openRepo(io.cwd);
  const state = await readNixopsState(io, file);
  const plan = planNixopsImport(state, file, opts);
  try {
    conflicts(before.repo, plan);
    for (const w of plan.warnings) printWarning(io, w);
    if (opts.dryRun) {
      const out: string[] = [`deployment ${plan.deployment.name ?? plan.deployment.uuid} (schema version ${state.schemaVersion}): would create`];
      for (const h of plan.hosts) {
        const key = opts.hostKeys.has(h.name) ? "key from --host-key" : h.hostKey ? `key ${sshFingerprint(h.hostKey.line)} from ${h.hostKey.from}` : "no key recorded: needs --scan or --host-key";
        out.push(`host ${h.name}  ${h.target}  ${key}`);
      }
      for (const s of plan.secrets) out.push(`secret ${describeSecret(s)}`);
      for (const k of plan.skipped) out.push(`skip ${k.machine}:${k.key}  ${k.why}`);
      io.stdout.write(out.join("\n") + "\n");
      printInfo(io, "dry run: nothing was changed");
      return plan;
    }
    const keys = await pinKeys(io, plan, opts);
    await withLockedRepo(io.cwd, async ({ dir, repo }) => {
      conflicts(repo, plan);
      for (const h of plan.hosts) repo.hosts[h.name] = { target: h.target, hostKey: keys.get(h.name)! };
      const now = new Date().toISOString();
      for (const s of plan.secrets) {
        repo.secrets[s.name] = { hosts: s.hosts, owner: s.owner, group: s.group, mode: s.mode, ...(s.path ? { path: s.path } : {}), restartUnits: [], reloadUnits: [], version: 1, updatedAt: now };
      }
      // Every blob in memory first: a failure before the writes leaves the repo as it was.
      const blobs = new Map<string, Uint8Array>();
      for (const s of plan.secrets) {
        const { ciphertext, encryptedTo } = await encryptSecret(repo, s.name, s.value);
        repo.secrets[s.name]!.encryptedTo = encryptedTo;
        blobs.set(s.name, ciphertext);
      }
      await mkdir(secretsDir(dir), { recursive: true });
      for (const [name, blob] of blobs) await writeFileAtomic(secretFile(dir, name), blob, 0o644);
      await saveRepo(dir, repo);
    });
    for (const h of plan.hosts) printInfo(io, `host ${h.name}  ${h.target}  ${sshFingerprint(keys.get(h.name)!)}`);
    for (const s of plan.secrets) printInfo(io, `secret ${describeSecret(s)}`);
    for (const k of plan.skipped) printWarning(io, `not imported: key ${k.key} of machine ${k.machine}: ${k.why}; add it with: nixseal secrets add ${k.key} --host ${plan.hosts.find((h) => h.machine === k.machine)?.name ?? "HOST"} --from-file FILE`);
    printInfo(io, `imported ${plan.hosts.length} host${plan.hosts.length === 1 ? "" : "s"} and ${plan.secrets.length} secret${plan.secrets.length === 1 ? "" : "s"} from deployment ${plan.deployment.name ?? plan.deployment.uuid}`);
    if (plan.secrets.length) {
      printWarning(io, `NixOps kept these values in plaintext in ${file} (and in every copy or backup of it): rotate them once the hosts run nixseal: ${plan.secrets.map((s) => s.name).join(", ")}`);
      printInfo(io, "hint: nixseal secrets rotate NAME for each, then remove the keys from the NixOps state (or the state file itself)");
    }
    return plan;
  } finally {
    for (const s of plan.secrets) s.value.fill(0);
  }
}

// `nixseal secrets show NAME [--public] [--json]`: one secret's metadata and, for a
// generated key pair, its public half (never a value).
import { NixsealError, ownerAndGroup, passwordSecretOf } from "../../core/index.js";
import { unknownSecret } from "../errors.js";
import type { CliIo } from "../io.js";
import { printInfo, printJson } from "../output.js";
import { isStale, openRepo } from "../repo/index.js";
import { checkSecretName } from "../repo/validate.js";
import type { Value } from "../values.js";
import { passwordOwner } from "./generated.js";

/** After add/rotate: the public half on stdout (for `> key.pub`), where a password went on stderr. */
export function printGenerated(io: CliIo, name: string, v: Value): void {
  if (v.public !== undefined) io.stdout.write(`${v.public}\n`);
  if (v.password) printInfo(io, `its generated password is the admin-only secret ${passwordSecretOf(name)}: nixseal secrets cat ${passwordSecretOf(name)}`);
}

export async function showSecret(io: CliIo, name: string, opts: { public?: boolean; json?: boolean }): Promise<void> {
  checkSecretName(name);
  const { repo } = await openRepo(io.cwd);
  const s = repo.secrets[name];
  if (!s) throw unknownSecret(name);
  const kind = s.generate === undefined ? null : "kind" in s.generate ? s.generate.kind : `random ${s.generate.bytes} ${s.generate.encoding}`;
  const password = s.generate && "kind" in s.generate && !s.public && repo.secrets[passwordSecretOf(name)] ? passwordSecretOf(name) : null;
  if (opts.public) {
    if (s.public === undefined) {
      throw new NixsealError("NIXSEAL_ERR_NO_PUBLIC_HALF", `secret ${name} has no public half (${kind ? `generated as ${kind}` : "not a generated key pair"})`, {
        hints: password ? [`its generated password: nixseal secrets cat ${password}`] : ["only --generate ssh-ed25519 and --generate wireguard make one"],
      });
    }
    io.stdout.write(`${s.public}\n`);
    return;
  }
  const row = {
    name,
    hosts: s.hosts,
    owner: s.owner,
    group: s.group ?? null,
    mode: s.mode,
    path: s.path ?? null,
    restartUnits: s.restartUnits,
    reloadUnits: s.reloadUnits,
    version: s.version,
    updatedAt: s.updatedAt,
    generated: kind,
    public: s.public ?? null,
    passwordSecret: password,
    passwordOf: passwordOwner(repo, name) ?? null,
    needsRekey: isStale(repo, name),
  };
  if (opts.json) return printJson(io, row);
  const lines = [
    `name: ${name}`,
    `hosts: ${s.hosts.join(", ") || "- (admins only)"}`,
    `file: ${s.mode} ${ownerAndGroup(s.owner, s.group)}${s.group === undefined ? " (the owner's primary group)" : ""}${s.path ? `, also at ${s.path}` : ""}`,
    `version: ${s.version} (${s.updatedAt})`,
    ...(s.restartUnits.length ? [`restarts: ${s.restartUnits.join(", ")}`] : []),
    ...(s.reloadUnits.length ? [`reloads: ${s.reloadUnits.join(", ")}`] : []),
    ...(kind ? [`generated: ${kind} (secrets rotate generates it again)`] : []),
    ...(s.public ? [`public: ${s.public}`] : []),
    ...(password ? [`password: the admin-only secret ${password}`] : []),
    ...(row.passwordOf ? [`the generated password of ${row.passwordOf}`] : []),
    ...(row.needsRekey ? ["needs rekey: its recipients changed"] : []),
  ];
  io.stdout.write(lines.join("\n") + "\n");
}

// What a NixOps deployment becomes in nixseal: one host per machine, one secret per
// deployment.keys entry NixOps stored with its text. Pure: reads the parsed state,
// decides, reports; nothing is encrypted or written here.
import { checkMode } from "../../mode-policy.js";
import { checkHostName, checkPath, checkPrincipal, checkSecretName } from "../../repo/validate.js";
import { NixsealError } from "../../../core/index.js";
import type { NixopsDeployment, NixopsResource, NixopsState } from "./state-file.js";
import { where } from "../where.js";
import { usageError } from "../../errors.js";

/** NixOps' defaults for a key (nix/keys.nix): what an absent option means. */
const KEY_DEFAULTS = { user: "root", group: "root", permissions: "0600", destDir: "/run/keys" };

/** Backends whose resources are machines (nixops and its plugins). */
const MACHINE_TYPES = new Set(["none", "ec2", "gce", "azure", "virtualbox", "container", "libvirtd", "hetzner", "digitalOcean", "packet", "vultr", "hyperv", "aws", "gcp"]);

export interface PlannedHost {
  name: string;
  /** The machine's name in NixOps. */
  machine: string;
  type: string;
  target: string;
  /** The SSH host key NixOps recorded, and the attribute it came from. */
  hostKey?: { line: string; from: string };
}

interface PlannedSecret {
  name: string;
  hosts: string[];
  owner: string;
  group: string;
  mode: string;
  path?: string;
  /** Only in memory; zeroed by whoever consumes the plan. */
  value: Buffer;
}

/** A key NixOps did not keep in its state (keyFile, keyCommand): nothing to import. */
interface SkippedKey {
  machine: string;
  key: string;
  why: string;
}

export interface NixopsPlan {
  deployment: NixopsDeployment;
  hosts: PlannedHost[];
  secrets: PlannedSecret[];
  skipped: SkippedKey[];
  /** Resources that are not machines (key pairs, buckets, …), by name. */
  otherResources: string[];
  warnings: string[];
}

interface PlanOptions {
  /** --deployment NAME|UUID (needed when the file holds several). */
  deployment?: string;
  /** --rename OLD=NEW for machine names, MACHINE:KEY=NEW for keys. */
  renames: Map<string, string>;
  allowWorldReadable?: boolean;
}

function pickDeployment(state: NixopsState, wanted: string | undefined, file: string): NixopsDeployment {
  const label = (d: NixopsDeployment): string => (d.name ? `${d.name} (${d.uuid})` : d.uuid);
  if (wanted !== undefined) {
    const hits = state.deployments.filter((d) => d.uuid === wanted || d.name === wanted || d.uuid.startsWith(wanted));
    if (hits.length === 1) return hits[0]!;
    throw new NixsealError("NIXSEAL_ERR_NIXOPS_DEPLOYMENT", `${file}: ${hits.length === 0 ? "no" : "more than one"} deployment matches "${wanted}"`, {
      hints: [`its deployments: ${state.deployments.map(label).join(", ") || "none"}`],
    });
  }
  if (state.deployments.length === 1) return state.deployments[0]!;
  throw new NixsealError("NIXSEAL_ERR_NIXOPS_DEPLOYMENT", `${file} holds ${state.deployments.length} deployments; say which one to import`, {
    hints: state.deployments.length ? [`--deployment NAME, one of: ${state.deployments.map(label).join(", ")}`] : ["create one with nixops first, or give another state file"],
  });
}

function isMachine(r: NixopsResource): boolean {
  return MACHINE_TYPES.has(r.type) || r.attrs.has("targetHost") || r.attrs.has("keys") || r.attrs.has("toplevel");
}

/** user@host[:port] as nixseal writes it; NixOps stores targetUser/targetPort only when not the default. */
function targetOf(m: NixopsResource): string | undefined {
  const host = m.attrs.get("targetHost") ?? m.attrs.get("publicIpv4") ?? m.attrs.get("privateIpv4");
  if (!host) return undefined;
  const user = m.attrs.get("targetUser") ?? "root";
  const port = m.attrs.get("targetPort");
  const address = host.includes(":") ? `[${host}]` : host;
  return `${user}@${address}${port && port !== "22" ? `:${port}` : ""}`;
}

/** The public host key a backend recorded: "<backend>.publicHostKey" (ec2, gce, azure, virtualbox, container, …). */
function hostKeyOf(m: NixopsResource): { line: string; from: string } | undefined {
  for (const [name, value] of m.attrs) {
    if ((name === "publicHostKey" || name.endsWith(".publicHostKey")) && value.trim() !== "") return { line: value.trim(), from: name };
  }
  return undefined;
}

interface RawKey {
  text?: unknown;
  keyFile?: unknown;
  keyCommand?: unknown;
  user?: unknown;
  group?: unknown;
  permissions?: unknown;
  destDir?: unknown;
}

/** deployment.keys as stored: JSON of name -> options, or name -> text before NixOps 1.3. */
function keysOf(m: NixopsResource, file: string): Array<[string, RawKey]> {
  const json = m.attrs.get("keys");
  if (json === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new NixsealError("NIXSEAL_ERR_NIXOPS_STATE", `${file}: the "keys" attribute of machine ${m.name} is not JSON`, { hints: ["the file is damaged; nothing was changed"] });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new NixsealError("NIXSEAL_ERR_NIXOPS_STATE", `${file}: the "keys" attribute of machine ${m.name} is not an object of keys`, { hints: ["the file is damaged; nothing was changed"] });
  }
  return Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, typeof v === "string" ? { text: v } : ((v ?? {}) as RawKey)]);
}

function str(v: unknown, fallback: string): string {
  return typeof v === "string" && v !== "" ? v : fallback;
}

function rename(opts: PlanOptions, key: string, name: string): string {
  return opts.renames.get(key) ?? name;
}

/**
 * Decides the hosts and secrets one deployment becomes.
 *
 * @throws NixsealError for a state nixseal cannot express: several deployments without
 * --deployment, a machine or key name that breaks the name rules, a machine without an
 * address, one key name holding different values or owners on two machines
 */
export function planNixopsImport(state: NixopsState, file: string, opts: PlanOptions): NixopsPlan {
  const deployment = pickDeployment(state, opts.deployment, file);
  const plan: NixopsPlan = { deployment, hosts: [], secrets: [], skipped: [], otherResources: [], warnings: [] };
  const byName = new Map<string, PlannedSecret & { machines: string[] }>();
  try {
    collect(deployment, file, opts, plan, byName);
  } catch (err) {
    for (const s of byName.values()) s.value.fill(0);
    throw err;
  }
  plan.secrets = [...byName.values()].map(({ machines: _m, ...s }) => s).sort((a, b) => (a.name < b.name ? -1 : 1));
  plan.hosts.sort((a, b) => (a.name < b.name ? -1 : 1));
  return plan;
}

function collect(deployment: NixopsDeployment, file: string, opts: PlanOptions, plan: NixopsPlan, byName: Map<string, PlannedSecret & { machines: string[] }>): void {
  for (const m of deployment.resources) {
    if (!isMachine(m)) {
      plan.otherResources.push(`${m.name} (${m.type})`);
      continue;
    }
    const hostName = where(`machine ${m.name}`, () => checkHostName(rename(opts, m.name, m.name)));
    const target = targetOf(m);
    if (!target) {
      throw new NixsealError("NIXSEAL_ERR_NIXOPS_STATE", `machine ${m.name} (${m.type}) has no targetHost or IP address in the state`, {
        hints: [`import the others with --rename, then add it yourself: nixseal host add ${hostName} --target root@ADDRESS --scan`],
      });
    }
    const hostKey = hostKeyOf(m);
    plan.hosts.push({ name: hostName, machine: m.name, type: m.type, target, ...(hostKey ? { hostKey } : {}) });
    for (const [keyName, k] of keysOf(m, file)) {
      if (typeof k.text !== "string") {
        const why = typeof k.keyFile === "string" ? `its value is read from ${k.keyFile} at deploy time` : k.keyCommand !== undefined ? "its value comes from a keyCommand at deploy time" : "NixOps stored no text for it";
        plan.skipped.push({ machine: m.name, key: keyName, why });
        continue;
      }
      const label = `key ${keyName} of machine ${m.name}`;
      const name = where(label, () => checkSecretName(rename(opts, `${m.name}:${keyName}`, keyName)));
      const owner = where(label, () => checkPrincipal(str(k.user, KEY_DEFAULTS.user)));
      const group = where(label, () => checkPrincipal(str(k.group, KEY_DEFAULTS.group)));
      const { mode, warnings } = where(label, () => checkMode(str(k.permissions, KEY_DEFAULTS.permissions), { allowWorld: opts.allowWorldReadable }));
      for (const w of warnings) plan.warnings.push(`${label}: ${w}`);
      const destDir = str(k.destDir, KEY_DEFAULTS.destDir).replace(/\/+$/, "");
      const path = destDir === KEY_DEFAULTS.destDir ? undefined : where(label, () => checkPath(`${destDir}/${name}`));
      const value = Buffer.from(k.text, "utf8");
      const prev = byName.get(name);
      if (prev) {
        const same = prev.value.equals(value) && prev.owner === owner && prev.group === group && prev.mode === mode && prev.path === path;
        value.fill(0);
        if (!same) {
          throw new NixsealError("NIXSEAL_ERR_NIXOPS_CONFLICT", `key ${keyName} differs between machines ${prev.machines.join(", ")} and ${m.name} (value, owner, group, mode or destDir); nixseal keeps one value per secret name`, {
            hints: [`import one of them under another name: --rename ${m.name}:${keyName}=${keyName}-${hostName} (its file becomes /run/keys/${keyName}-${hostName})`],
          });
        }
        prev.hosts.push(hostName);
        prev.machines.push(m.name);
        continue;
      }
      byName.set(name, { name, hosts: [hostName], owner, group, mode, ...(path ? { path } : {}), value, machines: [m.name] });
    }
  }
  const hostNames = plan.hosts.map((h) => h.name);
  const dup = hostNames.find((h, i) => hostNames.indexOf(h) !== i);
  if (dup) throw new NixsealError("NIXSEAL_ERR_NIXOPS_CONFLICT", `two machines would both become host ${dup}`, { hints: ["give one another name: --rename MACHINE=NEW"] });
  for (const key of opts.renames.keys()) {
    const [machine, k] = key.includes(":") ? key.split(":", 2) : [key, undefined];
    const m = deployment.resources.find((r) => r.name === machine);
    if (!m || (k !== undefined && !keysOf(m, file).some(([n]) => n === k))) {
      throw usageError(`--rename ${key}=…: no such ${k === undefined ? "machine" : "key"} in the deployment`, [`machines: ${deployment.resources.filter(isMachine).map((r) => r.name).join(", ")}`]);
    }
  }
}

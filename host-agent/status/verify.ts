// `nixseal-agent verify`: proof, from this host's own state, that every secret of the
// current generation is live as it should be, and that the units consuming it started
// after the boot restore put it there.
// - each live file (runDir/current/NAME): a regular file with the owner, group and
//   mode the manifest gives, and the same bytes as the decryption of the generation's
//   ciphertext (compared here: no hash of a value leaves the host); /run/keys/NAME
//   leads to it;
// - each consumer (the units a secret restarts or reloads): when it last began
//   starting (InactiveExitTimestampMonotonic, systemd's CLOCK_MONOTONIC µs) against
//   when this boot's restore finished (recorded by the restore on the same clock,
//   with the boot id: a record from an earlier boot proves nothing).
import { spawnSync } from "node:child_process";
import { lstatSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { NixsealError } from "../../core/errors.js";
import { VERIFY_REPORT_FORMAT, type VerifiedConsumer, type VerifiedSecret, type VerifyReport } from "../../core/schema/verify-report.js";
import type { AgentConfig } from "../config/defaults.js";
import { readRegularFile, readStoredGeneration } from "../generations/bundle-dir.js";
import { generationDir, linkedGeneration } from "../generations/store.js";
import { loadAccounts } from "../plaintext/accounts.js";
import { loadHostIdentities } from "../plaintext/host-keys.js";
import { CURRENT, decryptSecret, resolveOwner } from "../plaintext/materialize.js";
import { checkTemplate } from "../plaintext/templates.js";
import { renderTemplate } from "../../core/template.js";
import type { BundleSecret } from "../../core/schema/bundle.js";
import { ownerAndGroup } from "../../core/owner-group.js";
import { currentBootId, readStateFile } from "./state-file.js";

interface UnitTimes {
  activeState: string;
  startedMonotonicUs: number;
  invocationId: string;
}

const RESTORE_UNIT = "nixseal-restore.service";

/** `systemctl show` of some units: when each last began starting, its state, its invocation. */
function unitTimes(units: string[]): Map<string, UnitTimes> {
  const out = new Map<string, UnitTimes>();
  if (units.length === 0) return out;
  const r = spawnSync("systemctl", ["show", "--property=Id,ActiveState,InactiveExitTimestampMonotonic,InvocationID", "--", ...units], { encoding: "utf8" });
  if (r.status !== 0) return out;
  // One block per unit, in the order given, separated by blank lines.
  r.stdout.split(/\n\n/).forEach((block, i) => {
    const kv = new Map(block.split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const));
    const unit = units[i];
    if (unit) out.set(unit, { activeState: kv.get("ActiveState") ?? "unknown", startedMonotonicUs: Number(kv.get("InactiveExitTimestampMonotonic") ?? 0) || 0, invocationId: kv.get("InvocationID") ?? "" });
  });
  return out;
}

function describe(err: unknown): string {
  return err instanceof NixsealError ? err.message : ((err as NodeJS.ErrnoException).code ?? String(err));
}

/** Checks the current generation on this host. */
export async function collectVerify(config: AgentConfig): Promise<VerifyReport> {
  const bootId = currentBootId();
  const problems: string[] = [];
  const current = linkedGeneration(config.stateDir, "current") ?? null;
  const state = readStateFile(config.stateDir);
  const boot = state.boot;
  // systemd knows this boot only: the restore unit's invocation now is the proof that the
  // recorded run is this boot's (the boot id alone can be unreadable in a sandbox).
  const unitInvocation = unitTimes([RESTORE_UNIT]).get(RESTORE_UNIT)?.invocationId || null;
  const sameBoot = boot ? (boot.invocationId && unitInvocation ? boot.invocationId === unitInvocation : boot.bootId !== null && boot.bootId === bootId) : false;
  const restore = boot ? { bootId: boot.bootId, invocationId: boot.invocationId ?? null, sameBoot, ok: boot.ok, failed: boot.failed, durationMs: boot.durationMs, finishedMonotonicUs: boot.finishedMonotonicUs } : null;
  if (!restore) problems.push("no boot restore has been recorded on this host");
  else if (!restore.sameBoot) problems.push(`the recorded restore is not this boot's: ${RESTORE_UNIT} did not run in this one`);
  if (current === null) {
    problems.push("no generation is installed");
    return { format: VERIFY_REPORT_FORMAT, host: null, ok: false, bootId, generation: null, bundleId: null, restore, problems, secrets: [], consumers: [] };
  }
  const bundle = await readStoredGeneration(generationDir(config.stateDir, current));
  const identities = await loadHostIdentities(config.identityPaths);
  const accounts = loadAccounts();
  const live = join(config.runDir, CURRENT);
  /** One live file against what it should be; `expected` gives its bytes (decrypted or rendered). */
  const check = (s: BundleSecret, expected: () => Buffer): VerifiedSecret => {
    const p: string[] = [];
    const file = join(live, s.name);
    let owner: { uid: number; gid: number } | undefined;
    try {
      owner = resolveOwner(s, accounts);
    } catch (err) {
      p.push(describe(err));
    }
    try {
      const st = lstatSync(file);
      if (!st.isFile()) p.push(`${file} is not a regular file`);
      else {
        if (owner && st.uid !== owner.uid) p.push(`owned by uid ${st.uid}, not ${s.owner} (${owner.uid})`);
        if (owner && st.gid !== owner.gid) p.push(`group gid ${st.gid}, not ${s.group ?? `${s.owner}'s primary group`} (${owner.gid})`);
        const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
        if (parseInt(mode, 8) !== parseInt(s.mode, 8)) p.push(`mode ${mode}, not ${s.mode}`);
        const want = expected();
        const have = readRegularFile(file);
        if (!have.equals(want)) p.push("its content is not what the generation makes of it");
        want.fill(0);
        have.fill(0);
      }
    } catch (err) {
      p.push((err as NodeJS.ErrnoException).code === "ENOENT" ? `missing: ${file} does not exist` : `cannot check ${file}: ${describe(err)}`);
    }
    try {
      if (p.length === 0 && realpathSync(join(config.keysDir, s.name)) !== realpathSync(file)) p.push(`${join(config.keysDir, s.name)} does not lead to the live file`);
    } catch {
      p.push(`${join(config.keysDir, s.name)} is missing`);
    }
    return { name: s.name, ok: p.length === 0, problems: p, owner: s.owner, group: s.group, mode: s.mode, sha256: s.sha256, version: s.version };
  };
  const blobOf = new Map(bundle.entries.map((e) => [e.secret.name, e]));
  const plaintext = (name: string): Buffer => {
    const e = blobOf.get(name);
    if (!e?.blob) throw e?.error ?? new NixsealError("NIXSEAL_ERR_INTERNAL", `no ciphertext for ${name}`);
    return Buffer.from(decryptSecret(name, e.blob, identities));
  };
  const secrets: VerifiedSecret[] = bundle.entries.map((entry) => check(entry.secret, () => plaintext(entry.secret.name)));
  // A template's content: rendered again here from the decrypted secrets it uses.
  for (const t of bundle.templates) {
    secrets.push(
      check(t.template, () => {
        const values = new Map(t.template.uses.map((u) => [u, plaintext(u)]));
        try {
          return renderTemplate(checkTemplate(t), values, t.template.name);
        } finally {
          for (const v of values.values()) v.fill(0);
        }
      }),
    );
  }
  const consumersOf = new Map<string, string[]>();
  for (const s of [...bundle.manifest.secrets, ...(bundle.manifest.templates ?? [])]) for (const u of [...s.restartUnits, ...s.reloadUnits]) consumersOf.set(u, [...(consumersOf.get(u) ?? []), s.name]);
  const times = unitTimes([...consumersOf.keys()]);
  const consumers: VerifiedConsumer[] = [...consumersOf].map(([unit, names]) => {
    const t = times.get(unit) ?? { activeState: "unknown", startedMonotonicUs: 0, invocationId: "" };
    let problem: string | undefined;
    if (t.startedMonotonicUs > 0 && restore?.sameBoot && t.startedMonotonicUs < restore.finishedMonotonicUs) {
      problem = `started ${((restore.finishedMonotonicUs - t.startedMonotonicUs) / 1000).toFixed(1)} ms before the restore of ${names.join(", ")} finished`;
    }
    return { unit, secrets: names, ok: problem === undefined, ...(problem ? { problem } : {}), ...t };
  });
  const ok = problems.length === 0 && secrets.every((s) => s.ok) && consumers.every((c) => c.ok);
  return { format: VERIFY_REPORT_FORMAT, host: bundle.manifest.host, ok, bootId, generation: current, bundleId: bundle.manifest.id, restore, problems, secrets, consumers };
}

/** The report for a person. */
export function formatVerify(r: VerifyReport): string {
  const out: string[] = [];
  out.push(`host ${r.host ?? "-"}, generation ${r.generation ?? "-"}, boot ${r.bootId ?? "-"}`);
  if (r.restore) out.push(`boot restore: ${r.restore.sameBoot ? "this boot" : "an earlier boot"}, ${r.restore.durationMs} ms, ${r.restore.ok ? "every secret" : `${r.restore.failed} failed`}`);
  for (const p of r.problems) out.push(`FAIL ${p}`);
  for (const s of r.secrets) out.push(s.ok ? `ok   ${s.name}  ${ownerAndGroup(s.owner, s.group)} ${s.mode}  content matches` : `FAIL ${s.name}: ${s.problems.join("; ")}`);
  for (const c of r.consumers) out.push(c.ok ? `ok   ${c.unit} ${c.startedMonotonicUs ? "started after its keys" : `not started (${c.activeState})`}` : `FAIL ${c.unit} ${c.problem}`);
  return out.join("\n") + "\n";
}

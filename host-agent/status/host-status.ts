// What the host runs, read from disk (generations, status.json, the run dir) so it
// works with the API down. Names, owners, modes, versions and ciphertext hashes only:
// never a value.
import { lstatSync } from "node:fs";
import { join } from "node:path";
import type { GenerationStatus, SecretStatus, StatusReport } from "../../core/agent-api.js";
import { readStoredManifest } from "../generations/bundle-dir.js";
import type { BundleSecret } from "../../core/schema/bundle.js";
import { ownerAndGroup } from "../../core/owner-group.js";
import type { AgentConfig } from "../config/defaults.js";
import { generationDir, linkedGeneration, listGenerations } from "../generations/store.js";
import { CURRENT, currentRunName } from "../plaintext/materialize.js";
import { memoryFsOf } from "../plaintext/memory-fs.js";
import { readStateFile } from "./state-file.js";

/** Collects the status report from disk. */
export async function collectStatus(config: AgentConfig): Promise<StatusReport> {
  const current = linkedGeneration(config.stateDir, "current") ?? null;
  const previous = linkedGeneration(config.stateDir, "previous") ?? null;
  const state = readStateFile(config.stateDir);
  const generations: GenerationStatus[] = [];
  let host: string | null = null;
  let currentSecrets: SecretStatus[] = [];
  let currentTemplates: SecretStatus[] = [];
  for (const n of listGenerations(config.stateDir).reverse()) {
    const kind: GenerationStatus["state"] = n === current ? "current" : n === previous ? "previous" : current === null || n > current ? "pending" : "old";
    try {
      const m = await readStoredManifest(generationDir(config.stateDir, n));
      generations.push({ generation: n, state: kind, id: m.id, host: m.host, createdAt: m.createdAt, secrets: m.secrets.length });
      if (n === current) {
        host = m.host;
        const live = join(config.runDir, CURRENT);
        const describe = (s: BundleSecret): SecretStatus => {
          const r = state.results[s.name];
          const sameGen = r && r.generation === n;
          let present = false;
          try {
            present = lstatSync(join(live, s.name)).isFile();
          } catch {
            present = false;
          }
          return {
            name: s.name,
            version: s.version,
            sha256: s.sha256,
            owner: s.owner,
            group: s.group,
            mode: s.mode,
            file: join(live, s.name),
            keysPath: join(config.keysDir, s.name),
            ...(s.path ? { path: s.path } : {}),
            restartUnits: s.restartUnits,
            reloadUnits: s.reloadUnits,
            present,
            ...(sameGen ? { ok: r.ok, ...(r.ok ? {} : { code: r.code, error: r.error, hints: r.hints }) } : {}),
          };
        };
        currentSecrets = m.secrets.map(describe);
        currentTemplates = (m.templates ?? []).map(describe);
      }
    } catch {
      generations.push({ generation: n, state: "damaged" });
    }
  }
  return {
    host,
    current,
    previous,
    runGeneration: currentRunName(config.runDir) ?? null,
    runDir: config.runDir,
    keysDir: config.keysDir,
    memoryFs: memoryFsOf(config.runDir),
    generations,
    lastRun: state.lastRun ?? null,
    secrets: currentSecrets,
    templates: currentTemplates,
  };
}

/** The report for a person: one line per secret, failures with their reason and hint. */
export function formatStatus(s: StatusReport): string {
  const out: string[] = [];
  out.push(`host: ${s.host ?? "(no generation installed)"}`);
  out.push(`generation: current ${s.current ?? "-"}, previous ${s.previous ?? "-"}, live in ${s.runGeneration ? join(s.runDir, s.runGeneration) : "(nothing restored)"}`);
  const fs = s.memoryFs;
  const own = fs.type === "missing" || fs.isMountPoint ? "" : `, a directory inside the mount at ${fs.mountPoint ?? "?"} (not a mount of its own)`;
  out.push(`memory filesystem: ${s.runDir} is ${fs.type}${fs.type === "tmpfs" ? (fs.noswap ? " (noswap)" : " (may swap)") : ""}${own}`);
  if (s.lastRun) {
    const lr = s.lastRun;
    out.push(`last run: ${lr.action} of generation ${lr.generation ?? "-"} at ${lr.at}: ${lr.ok ? "ok" : lr.error ? `failed: ${lr.error.message}` : `${lr.failed} secret(s) failed`} (${lr.durationMs} ms)`);
  }
  for (const [title, list] of [["secrets:", s.secrets], ["templates:", s.templates ?? []]] as const) {
    if (list.length) out.push(title);
    for (const x of list) {
      const state = x.ok === false ? "FAILED" : x.present ? "ok" : "missing";
      out.push(`  ${x.name}  v${x.version}  ${ownerAndGroup(x.owner, x.group)} ${x.mode}  ${state}  ${x.keysPath}${x.path ? ` ${x.path}` : ""}`);
      if (x.ok === false) {
        out.push(`      ${x.error ?? ""}`);
        for (const h of x.hints ?? []) out.push(`      hint: ${h}`);
      }
    }
  }
  if (s.generations.length) out.push("generations: " + s.generations.map((g) => `${g.generation}${g.state === "old" ? "" : ` (${g.state})`}`).join(", "));
  return out.join("\n") + "\n";
}

// agenix's rules file: secrets.nix, an attribute set from each .age file (a path
// relative to the file) to { publicKeys = [ … ]; armor = bool; }. It is Nix, so Nix
// reads it: nix-instantiate --eval --strict --json (the agenix CLI itself does the same).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { z } from "zod";
import { NixsealError } from "../../../core/index.js";
import type { CliIo } from "../../io.js";

export const RULES_FILE = "secrets.nix";

const ruleSchema = z.object({
  publicKeys: z.array(z.string().min(1)),
  armor: z.boolean().optional(),
});
const rulesSchema = z.record(z.string().min(1), ruleSchema);

export interface AgenixRule {
  /** The .age file, relative to the directory of secrets.nix. */
  file: string;
  publicKeys: string[];
  armor: boolean;
}

function evaluate(io: CliIo, file: string): Promise<{ code: number | null; stdout: string; stderr: string; missing: boolean }> {
  return new Promise((resolve) => {
    const child = spawn("nix-instantiate", ["--eval", "--strict", "--json", file], { env: io.env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.once("error", (e: NodeJS.ErrnoException) => resolve({ code: null, stdout: "", stderr: e.message, missing: e.code === "ENOENT" }));
    child.once("close", (code) => resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), missing: false }));
  });
}

/**
 * Evaluates DIR/secrets.nix.
 *
 * @returns one rule per .age file, sorted by file
 * @throws NixsealError NIXSEAL_ERR_AGENIX_RULES (missing, does not evaluate, not of
 * agenix's shape), NIXSEAL_ERR_NIX_MISSING (no nix-instantiate)
 */
export async function readAgenixRules(io: CliIo, dir: string): Promise<AgenixRule[]> {
  const file = join(dir, RULES_FILE);
  const r = await evaluate(io, file);
  if (r.missing) {
    throw new NixsealError("NIXSEAL_ERR_NIX_MISSING", `reading ${file} needs nix-instantiate, which is not on PATH`, {
      hints: ["install Nix (on Debian: apt-get install nix-bin), or run the import on a machine that has it"],
    });
  }
  if (r.code !== 0) {
    // Nix's own message names the file, line and column; secrets.nix holds public keys only.
    const why = r.stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("warning:")).slice(0, 6).join("; ");
    throw new NixsealError("NIXSEAL_ERR_AGENIX_RULES", `${file} does not evaluate: ${why || `nix-instantiate exited with ${r.code}`}`, {
      hints: [`check it with: nix-instantiate --eval --strict --json ${file}`, "it must be an attribute set of \"NAME.age\".publicKeys = [ … ], as agenix reads it"],
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new NixsealError("NIXSEAL_ERR_AGENIX_RULES", `${file} did not evaluate to JSON`, { hints: ["it must be an attribute set, as agenix reads it"] });
  }
  const checked = rulesSchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new NixsealError("NIXSEAL_ERR_AGENIX_RULES", `${file}: ${issue.path.length ? `at ${issue.path.map(String).join(".")}: ` : ""}${issue.message}`, {
      hints: ['each entry is "NAME.age".publicKeys = [ "ssh-ed25519 AAAA…" … ]; (armor = true; optional)'],
    });
  }
  return Object.entries(checked.data)
    .map(([f, rule]) => ({ file: f, publicKeys: rule.publicKeys, armor: rule.armor ?? false }))
    .sort((a, b) => (a.file < b.file ? -1 : 1));
}

// Fixtures for the server tests, all real: an ed25519 host key from ssh-keygen, bundles
// encrypted to it by core (the agent tests' writeBundle), and a logger that keeps every
// line the server writes so tests can grep it.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { BundleManifest } from "../../core/index.js";

export { makeHostKey, writeBundle, grepTree, makeEnv, type AgentEnv } from "../host-agent/support.js";

/** A PUT body made from a bundle dir as `nixseal bundle` writes it. */
export function pushBodyOf(dir: string): { manifest: BundleManifest; files: Record<string, string> } {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as BundleManifest;
  const files: Record<string, string> = {};
  for (const s of manifest.secrets) files[s.file] = readFileSync(join(dir, s.file)).toString("base64");
  return { manifest, files };
}

/** A stream that keeps everything written to it (a pino destination, an io stream). */
export function logSink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString("utf8"));
      cb();
    },
  });
  return { stream, text: () => chunks.join("") };
}

/** Every entry under dir: files by content, symlinks by target (for "nothing changed" checks). */
export function snapshotState(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const key = p.slice(dir.length + 1);
      if (e.isSymbolicLink()) out.set(key, `-> ${readlinkSync(p)}`);
      else if (e.isDirectory()) {
        out.set(key, "dir");
        walk(p);
      } else out.set(key, readFileSync(p).toString("base64"));
    }
  };
  walk(dir);
  return out;
}

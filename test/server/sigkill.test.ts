// SIGKILL of a process that is storing bundles, at random points: after every kill the
// store still serves a whole head bundle (every object matching its sha256), every
// record it holds is whole, and the next start sweeps the temp files the kill left.
// The writer is a real child process running the built dist/server/store/file.js.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BUNDLE_FORMAT, type BundleManifest } from "../../core/index.js";
import { FileStore } from "../../server/store/file.js";

const STORAGE_JS = join(import.meta.dirname, "..", "..", "dist", "server", "store", "file.js");
const TRIALS = 20;
const PER_TRIAL = 12;
const work = mkdtempSync(join(tmpdir(), "nixseal-server-kill-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Pushed {
  manifest: BundleManifest;
  files: Record<string, string>;
}

function makeBundle(n: number): Pushed {
  const files: Record<string, string> = {};
  const secrets = Array.from({ length: 6 }, (_, i) => {
    const blob = Buffer.concat([Buffer.from("age-encryption.org/v1\n"), randomBytes(16 * 1024)]);
    files[`s${i}.age`] = blob.toString("base64");
    return { name: `s${i}`, file: `s${i}.age`, sha256: createHash("sha256").update(blob).digest("hex"), owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: n + 1 };
  });
  const id = createHash("sha256").update(`bundle-${n}-${randomBytes(8).toString("hex")}`).digest("hex");
  return { manifest: { format: BUNDLE_FORMAT, host: "web1", id, createdAt: new Date().toISOString(), sequence: n + 1, secrets }, files };
}

const WRITER = `
import { readFileSync } from "node:fs";
const { FileStore } = await import(process.argv[1]);
const store = new FileStore(process.argv[2]);
await store.init();
const bundles = JSON.parse(readFileSync(process.argv[3], "utf8"));
for (let i = 0; i < bundles.length; i++) {
  const b = bundles[i];
  await store.saveBundle(b.manifest, new Map(Object.entries(b.files).map(([k, v]) => [k, Buffer.from(v, "base64")])), undefined);
  process.stdout.write("saved " + i + "\\n");
}
`;

/**
 * Runs the writer and SIGKILLs it `delayMs` after it reports bundle `killAfter` saved
 * (a random point inside the next save: the fault injected, not a wait for anything).
 */
function runWriter(storage: string, bundlesFile: string, killAfter: number, delayMs: number): Promise<{ saved: number; signal: NodeJS.Signals | null; msPerSave: number }> {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const child = spawn(process.execPath, ["--input-type=module", "-e", WRITER, "--", STORAGE_JS, storage, bundlesFile], { stdio: ["ignore", "pipe", "inherit"], env });
  let saved = -1;
  let out = "";
  let firstAt = 0;
  let lastAt = 0;
  let armed = false;
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    const all = [...out.matchAll(/saved (\d+)\n/g)];
    if (!all.length) return;
    saved = Number(all.at(-1)![1]);
    lastAt = performance.now();
    if (!firstAt) firstAt = lastAt;
    if (saved >= killAfter && !armed) {
      armed = true;
      setTimeout(() => child.kill("SIGKILL"), delayMs);
    }
  });
  return new Promise((resolve) => child.on("close", (_code, signal) => resolve({ saved, signal, msPerSave: saved > 0 ? (lastAt - firstAt) / saved : 0 })));
}

function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".tmp"))
    .map((e) => join(e.parentPath, e.name));
}

describe("SIGKILL while storing bundles", () => {
  it(`leaves a whole latest bundle after each of ${TRIALS} kills`, { timeout: 180_000 }, async () => {
    expect(existsSync(STORAGE_JS), "run npm run build first").toBe(true);
    const storage = join(work, "storage");
    const ids: string[][] = [];
    let killed = 0;
    let leftTemps = 0;
    let msPerSave = 5;
    for (let t = 0; t < TRIALS; t++) {
      const bundles = Array.from({ length: PER_TRIAL }, (_, i) => makeBundle(t * PER_TRIAL + i));
      ids.push(bundles.map((b) => b.manifest.id));
      const file = join(work, `bundles-${t}.json`);
      writeFileSync(file, JSON.stringify(bundles));
      const r = await runWriter(storage, file, Math.floor(Math.random() * (PER_TRIAL - 4)), Math.random() * msPerSave);
      if (r.msPerSave > 0) msPerSave = r.msPerSave;
      if (r.signal === "SIGKILL") killed++;
      if (tempFiles(storage).length) leftTemps++;
      // Readers see the last bundle reported saved, or a later one: never older, never partial.
      const store = new FileStore(storage);
      await store.init();
      const head = await store.head("web1");
      const latest = head && (await store.readBundle("web1", head.id));
      const index = ids[t]!.indexOf(latest!.id);
      expect(index).toBeGreaterThanOrEqual(r.saved);
      expect(latest!.files.size).toBe(6);
      for (const s of latest!.manifest.secrets) expect(createHash("sha256").update(latest!.files.get(s.file)!).digest("hex")).toBe(s.sha256);
      // Every record written so far is whole (records come after their blobs).
      for (const name of readdirSync(join(storage, "hosts", "web1", "bundles"))) {
        if (!name.endsWith(".json")) continue;
        expect(await store.readBundle("web1", name.slice(0, -5))).toBeDefined();
      }
      await store.close();
    }
    expect(killed).toBe(TRIALS);
    // Starting again sweeps what the kills left half-written.
    expect(tempFiles(storage)).toEqual([]);
    expect(leftTemps, "some kills landed mid-write").toBeGreaterThan(0);
  });
});

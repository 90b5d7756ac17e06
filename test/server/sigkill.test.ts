// SIGKILL of a process that is storing bundles, at random points: after every kill the
// store still serves a whole head bundle (every object matching its sha256), every
// bundle it holds is whole, and the next start cuts off the frame a kill left half
// written.
// The writer is a real child process running the built dist/server/store/file.js.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BUNDLE_FORMAT, type BundleManifest } from "../../core/index.js";
import { FileStore } from "../../server/store/file.js";

const STORAGE_JS = join(import.meta.dirname, "..", "..", "dist", "server", "store", "file.js");
const TRIALS = 20;
const PER_TRIAL = 24;
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
  const [o] = await store.saveBundles([{ manifest: b.manifest, files: new Map(Object.entries(b.files).map(([k, v]) => [k, Buffer.from(v, "base64")])), signature: undefined }]);
  if (!o.ok) throw o.error;
  process.stdout.write("saved " + i + "\\n");
}
// Done: wait for the kill (it may come after the last save, when the parent lagged behind).
setInterval(() => {}, 1000);
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

const logSize = (storage: string) => (existsSync(join(storage, "bundles.log")) ? statSync(join(storage, "bundles.log")).size : 0);

describe("SIGKILL while storing bundles", () => {
  it(`leaves a whole latest bundle after each of ${TRIALS} kills`, { timeout: 180_000 }, async () => {
    expect(existsSync(STORAGE_JS), "run npm run build first").toBe(true);
    const storage = join(work, "storage");
    const ids: string[][] = [];
    let killed = 0;
    let cut = 0;
    let inFlight = 0;
    let msPerSave = 5;
    for (let t = 0; t < TRIALS; t++) {
      const bundles = Array.from({ length: PER_TRIAL }, (_, i) => makeBundle(t * PER_TRIAL + i));
      ids.push(bundles.map((b) => b.manifest.id));
      const file = join(work, `bundles-${t}.json`);
      writeFileSync(file, JSON.stringify(bundles));
      const r = await runWriter(storage, file, Math.floor(Math.random() * (PER_TRIAL / 2)), Math.random() * msPerSave);
      if (r.msPerSave > 0) msPerSave = r.msPerSave;
      if (r.signal === "SIGKILL") killed++;
      // Readers see the last bundle reported saved, or a later one: never older, never partial.
      const before = logSize(storage);
      const store = new FileStore(storage);
      await store.init();
      if (logSize(storage) < before) cut++;
      const head = await store.head("web1");
      const latest = head && (await store.readBundle("web1", head.id));
      const index = ids[t]!.indexOf(latest!.id);
      expect(index).toBeGreaterThanOrEqual(r.saved);
      if (index > r.saved) inFlight++;
      expect(latest!.files.size).toBe(6);
      for (const s of latest!.manifest.secrets) expect(createHash("sha256").update(latest!.files.get(s.file)!).digest("hex")).toBe(s.sha256);
      // Every bundle of every trial so far is there whole or not at all (reading one never fails).
      for (const id of ids.flat()) {
        const b = await store.readBundle("web1", id);
        if (b) expect(b.files.size).toBe(6);
      }
      await store.close();
    }
    expect(killed).toBe(TRIALS);
    // Kills landed inside saves: after the append, before it was acknowledged (that bundle is
    // then the head, whole), or inside the append (the next start cuts the frame off).
    expect(inFlight + cut, "some kills landed inside a save").toBeGreaterThan(0);
  });
});

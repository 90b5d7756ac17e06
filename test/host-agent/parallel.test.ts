// The decrypt worker (host-agent/plaintext/parallel-decrypt.ts): the built worker file as the
// agent runs it, real host keys from ssh-keygen, real age files; a worker that dies
// mid-run; and a whole restore of a large bundle through the built agent.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { encrypt, parseRecipient } from "../../core/index.js";
import { decrypt, parseHostIdentityFile, type Identity } from "../../core/age/decrypt.js";
import { sha256Hex } from "../../host-agent/generations/bundle-dir.js";
import { generationDir } from "../../host-agent/generations/store.js";
import { MIN_PARALLEL, startDecryptHelper, type DecryptResult } from "../../host-agent/plaintext/parallel-decrypt.js";
import { ensureUser, makeEnv, makeHostKey, rewriteManifest, writeBundle, type AgentEnv } from "./support.js";

const DIST = join(import.meta.dirname, "..", "..", "dist", "host-agent");
const AGENT = join(DIST, "bin.cjs");
const WORKER = join(DIST, "decrypt-worker.js");

let dir: string;
let key: string;
let identities: Identity[];
const N = 300;
const values = Array.from({ length: N }, (_, k) => `parallel-value-${k}`);
let blobs: Uint8Array[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "nixseal-parallel-"));
  const host = makeHostKey(dir);
  key = host.key;
  identities = await parseHostIdentityFile(readFileSync(key), key);
  const recipient = await parseRecipient(host.pub);
  blobs = values.map((v) => encrypt(Buffer.from(v), [recipient]));
  // 7: truncated (the last chunk does not authenticate); 42: for another host's key
  blobs[7] = blobs[7]!.subarray(0, blobs[7]!.length - 5);
  const other = makeHostKey(mkdtempSync(join(dir, "other-")));
  blobs[42] = encrypt(Buffer.from(values[42]!), [await parseRecipient(other.pub)]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function collect(): { results: Map<number, DecryptResult>; take: (k: number, r: DecryptResult) => void } {
  const results = new Map<number, DecryptResult>();
  return {
    results,
    take: (k, r) => {
      expect(results.has(k), `secret ${k} taken twice`).toBe(false);
      results.set(k, "plaintext" in r ? { plaintext: Uint8Array.from(r.plaintext) } : r);
    },
  };
}

function expectAllDecrypted(results: Map<number, DecryptResult>): void {
  expect(results.size).toBe(N);
  for (let k = 0; k < N; k++) {
    const r = results.get(k)!;
    if (k === 7 || k === 42) {
      expect(r).toHaveProperty("why");
      expect((r as { why: string }).why).not.toContain("parallel-value");
    } else {
      expect(Buffer.from((r as { plaintext: Uint8Array }).plaintext).toString()).toBe(values[k]);
    }
  }
  expect((results.get(42) as { why: string }).why).toMatch(/identit/i);
}

describe("decrypt worker", () => {
  it("shares the work with the main thread: every secret taken once, with its own plaintext or why it failed", async () => {
    expect(existsSync(WORKER), "run npm run build first").toBe(true);
    const helper = startDecryptHelper([key], WORKER)!;
    expect(helper).toBeDefined();
    try {
      expect(await helper.ready).toBe(true);
      const { results, take } = collect();
      const { byWorker } = await helper.run(blobs, (b) => decrypt(b, identities), take);
      expectAllDecrypted(results);
      expect(byWorker).toBeGreaterThan(0);
    } finally {
      helper.close();
    }
  });

  it("a take that throws stops the run and the error comes back; nothing is taken after it", async () => {
    const helper = startDecryptHelper([key], WORKER)!;
    try {
      expect(await helper.ready).toBe(true);
      let taken = 0;
      const boom = new Error("disk full");
      await expect(
        helper.run(blobs, (b) => decrypt(b, identities), () => {
          if (++taken === 20) throw boom;
        }),
      ).rejects.toBe(boom);
      expect(taken).toBe(20);
    } finally {
      helper.close();
    }
  });

  it("a worker that dies holding secrets costs nothing: the main thread decrypts what it never handed back", async () => {
    // Stands in for a crash: claims every secret it can, tells the test, exits without a reply.
    const fake = join(dir, "dying-worker.mjs");
    const marker = join(dir, "claimed");
    writeFileSync(
      fake,
      `import { parentPort } from "node:worker_threads";
       import { writeFileSync } from "node:fs";
       parentPort.on("message", (job) => {
         const claim = new Int32Array(job.counter);
         let got = 0;
         while (Atomics.add(claim, 0, 1) < job.ends.length) got++;
         writeFileSync(${JSON.stringify(marker)}, String(got));
         process.exit(3);
       });
       parentPort.postMessage("ready");`,
    );
    const helper = startDecryptHelper([key], pathToFileURL(fake))!;
    try {
      expect(await helper.ready).toBe(true);
      const { results, take } = collect();
      let first = true;
      const r = await helper.run(
        blobs,
        (b) => {
          if (first) {
            first = false;
            // hold the main thread's first secret until the worker has claimed the rest
            const deadline = Date.now() + 10_000;
            while (!existsSync(marker) && Date.now() < deadline);
          }
          return decrypt(b, identities);
        },
        take,
      );
      // The worker claimed everything the main thread had not taken: N - 1, or all N when the
      // worker started claiming before the main thread took its first (a loaded machine).
      expect(Number(readFileSync(marker, "utf8"))).toBeGreaterThanOrEqual(N - 1);
      expect(r.byWorker).toBe(0);
      expectAllDecrypted(results);
    } finally {
      helper.close();
    }
  });
});

describe("nixseal-agent restore of a large bundle", () => {
  let env: AgentEnv;
  const removers: Array<() => void> = [];
  afterEach(() => env?.cleanup());
  afterAll(() => removers.forEach((r) => r()));

  it(`restores ${MIN_PARALLEL + 50} secrets (two threads when a core is spare): each file whole with owner and mode; an unknown owner and a blob for another key are reported, the rest restored`, async () => {
    expect(existsSync(AGENT), "run npm run build first").toBe(true);
    removers.push(ensureUser("nxs-par"));
    const gone = ensureUser("nxs-par-gone");
    env = makeEnv();
    const n = MIN_PARALLEL + 50;
    const secrets = Array.from({ length: n }, (_, k) => ({
      name: `s${k}`,
      value: `large-bundle-value-${k}`,
      owner: k === 3 ? "nxs-par-gone" : k % 2 ? "nxs-par" : "root",
      group: "nxs-par",
      mode: k % 2 ? "0440" : "0400",
    }));
    const bundle = await writeBundle(join(env.root, "b"), env.hostPub, secrets);
    const flags = ["--identity", env.hostKey, "--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir];
    const run = (cmd: string, ...args: string[]) => spawnSync(process.execPath, [AGENT, cmd, ...args, ...flags], { encoding: "utf8" });
    expect(run("import", bundle).status).toBe(0);
    // After the import: the owner leaves, and secret 9's blob at rest is swapped for one
    // to another key (the manifest's sha256 follows, so only decryption can tell).
    gone();
    const gen = generationDir(env.config.stateDir, 1);
    const other = makeHostKey(mkdtempSync(join(env.root, "other-")));
    const foreign = encrypt(Buffer.from("large-bundle-value-9"), [await parseRecipient(other.pub)]);
    writeFileSync(join(gen, "s9.age"), foreign);
    rewriteManifest(gen, (m) => (m.secrets.find((s) => s.name === "s9")!.sha256 = sha256Hex(foreign)));
    rmSync(join(env.config.runDir, "current"));

    const r = run("restore");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`restored generation 1: ${n - 2} of ${n} secrets`);
    expect(r.stderr).toContain("secret 's3': user 'nxs-par-gone' does not exist on this host");
    expect(r.stderr).toContain("secret 's9' cannot be decrypted with this host's keys");
    expect(r.stdout + r.stderr).not.toMatch(/large-bundle-value/);
    const uid = Number(spawnSync("id", ["-u", "nxs-par"], { encoding: "utf8" }).stdout);
    const gid = Number(spawnSync("id", ["-g", "nxs-par"], { encoding: "utf8" }).stdout);
    for (const [k, s] of secrets.entries()) {
      const file = join(env.config.runDir, "current", s.name);
      if (k === 3 || k === 9) {
        expect(existsSync(file)).toBe(false);
        continue;
      }
      expect(readFileSync(file, "utf8")).toBe(s.value);
      const st = statSync(file);
      expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([k % 2 ? uid : 0, gid, k % 2 ? 0o440 : 0o400]);
    }
  });
});

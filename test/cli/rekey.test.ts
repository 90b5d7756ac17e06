// Rekey re-encrypts exactly the secrets whose recipient set changed, in worker
// threads when there are many, and the real age binary agrees with the result.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decrypt, parseIdentityFile } from "../../core/index.js";
import { PARALLEL_THRESHOLD, encryptMany } from "../../cli/rekey/index.js";
import { runNixseal, snapshotTree, testEnv } from "./harness.js";

const WORKER = join(import.meta.dirname, "../../dist/cli/rekey/worker.js");
let work: string;
const pub = (h: string) => readFileSync(join(work, `${h}.pub`), "utf8").trim();
const ageOpen = (key: string, file: string) => spawnSync("age", ["-d", "-i", join(work, key), file], { encoding: "utf8" });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "nixseal-rekey-"));
  for (const h of ["web1", "web2", "web3"]) spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, h)]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("secrets rekey", () => {
  it("re-encrypts only the stale secrets, all of them correctly, without the removed host", async () => {
    const repo = join(work, "repo");
    mkdirSync(repo);
    const env = testEnv(repo);
    const run = (argv: string[], stdin?: string) => runNixseal(argv, { cwd: repo, env, stdin });
    await run(["init"]);
    for (const h of ["web1", "web2"]) expect((await run(["host", "add", h, "--target", "root@127.0.0.1", "--key", pub(h)])).code).toBe(0);
    const shared = Array.from({ length: PARALLEL_THRESHOLD + 6 }, (_, i) => `shared-${i}`);
    const own = Array.from({ length: 5 }, (_, i) => `own-${i}`);
    for (const n of shared) expect((await run(["secrets", "add", n, "--host", "web1,web2"], `value of ${n}`)).code).toBe(0);
    for (const n of own) expect((await run(["secrets", "add", n, "--host", "web1"], `value of ${n}`)).code).toBe(0);
    const before = snapshotTree(join(repo, "secrets"));

    await run(["host", "rm", "web2"]);
    // One blob no admin key opens, in the middle: the parallel rekey fails as a whole and changes no file.
    const foreign = join(repo, "secrets", `${shared[17]}.age`);
    const good = readFileSync(foreign);
    const other = spawnSync("age", ["-e", "-R", join(work, "web1.pub")], { input: "x" }).stdout;
    writeFileSync(foreign, other);
    const withForeign = snapshotTree(join(repo, "secrets"));
    const failed = await run(["secrets", "rekey"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`cannot decrypt secrets/${shared[17]}.age with the admin identity`);
    expect(snapshotTree(join(repo, "secrets"))).toEqual(withForeign);
    writeFileSync(foreign, good);

    const r = await run(["secrets", "rekey"]);
    expect(r.stderr).toContain(`re-encrypted ${shared.length} secrets`);
    const after = snapshotTree(join(repo, "secrets"));
    for (const n of own) expect(after.get(`${n}.age`)).toBe(before.get(`${n}.age`));
    for (const n of shared) {
      expect(after.get(`${n}.age`)).not.toBe(before.get(`${n}.age`));
      expect(ageOpen("web1", join(repo, "secrets", `${n}.age`)).stdout).toBe(`value of ${n}`);
      expect(ageOpen("web2", join(repo, "secrets", `${n}.age`)).status).not.toBe(0);
    }
    expect((await run(["secrets", "rekey"])).stderr).toContain("nothing to do");
  });
});

describe.skipIf(!existsSync(WORKER))("encryptMany in worker threads", () => {
  it("gives blobs that the recipients open, from two workers", async () => {
    const identities = await parseIdentityFile(readFileSync(join(work, "web3")), "web3");
    const jobs = Array.from({ length: 10 }, (_, i) => ({ name: `s${i}`, plaintext: Buffer.from(`worker value ${i}`), recipients: [pub("web3"), pub("web1")] }));
    const out = await encryptMany(jobs, { workers: 2 });
    expect(out.size).toBe(10);
    for (let i = 0; i < 10; i++) expect(Buffer.from(decrypt(out.get(`s${i}`)!, identities)).toString()).toBe(`worker value ${i}`);
  });

  it("fails as a whole when one recipient line is bad", async () => {
    const jobs = [
      { name: "ok", plaintext: Buffer.from("a"), recipients: [pub("web1")] },
      { name: "bad", plaintext: Buffer.from("b"), recipients: ["ssh-ed25519 AAAAbroken"] },
    ];
    await expect(encryptMany(jobs, { workers: 2 })).rejects.toThrow(/cannot encrypt bad/);
  });
});

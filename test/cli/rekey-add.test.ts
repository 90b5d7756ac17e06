// Rekey after recipients were only added keeps each blob's file key and
// payload and appends stanzas; a removal, a header that does not match the
// record, or a repo without the record takes the full path (fresh file key).
// The real age binary is the judge of who opens what.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_FORMAT, addRecipients, encrypt, generateAgeIdentity, parseHeader, parseIdentityFile, parseRecipient, unwrapWith, type Repo } from "../../core/index.js";
import { encryptMany } from "../../cli/rekey/index.js";
import { recipientLines, recordRecipientSet, saveRepo } from "../../cli/repo/index.js";
import { runNixseal, snapshotTree, testEnv } from "./harness.js";

const BIN = join(import.meta.dirname, "../../dist/cli/bin.js");
const KEYS = ["web1", "web2", "web3", "web4", "stranger"];
let work: string;
let n = 0;
const key = (h: string) => join(work, h);
const pub = (h: string) => readFileSync(`${key(h)}.pub`, "utf8").trim();
const ageOpen = (h: string, file: string) => spawnSync("age", ["-d", "-i", key(h), file], { encoding: "utf8" });
const payload = (file: string): string => {
  const blob = readFileSync(file);
  return blob.subarray(parseHeader(blob).payloadOffset).toString("base64");
};
/** The file key of a blob, as a host that is a recipient unwraps it. */
const fileKey = async (h: string, file: string): Promise<string> =>
  Buffer.from(unwrapWith(parseHeader(readFileSync(file)).stanzas, await parseIdentityFile(readFileSync(key(h)), h))).toString("hex");

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "nixseal-rekey-add-"));
  for (const h of KEYS) spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key(h)]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A repo made with the CLI: hosts web1, web2; secrets a, b, c on both, d on web1 only. */
async function makeRepo() {
  const repo = join(work, `repo${n++}`);
  mkdirSync(repo);
  const env = testEnv(repo);
  const run = (argv: string[], stdin?: string) => runNixseal(argv, { cwd: repo, env, stdin });
  const json = (): Repo => JSON.parse(readFileSync(join(repo, "nixseal.json"), "utf8")) as Repo;
  const editJson = (fn: (r: Repo) => void): void => {
    const r = json();
    fn(r);
    writeFileSync(join(repo, "nixseal.json"), JSON.stringify(r, null, 2) + "\n");
  };
  const blob = (s: string) => join(repo, "secrets", `${s}.age`);
  expect((await run(["init"])).code).toBe(0);
  for (const h of ["web1", "web2"]) expect((await run(["host", "add", h, "--target", "root@127.0.0.1", "--key", pub(h)])).code).toBe(0);
  for (const s of ["a", "b", "c"]) expect((await run(["secrets", "add", s, "--host", "web1,web2"], `value of ${s}`)).code).toBe(0);
  expect((await run(["secrets", "add", "d", "--host", "web1"], "value of d")).code).toBe(0);
  const adminFile = join(repo, "home/.config/nixseal/identity.txt");
  /** `host add` then the host put on the given secrets by hand, as an operator edits nixseal.json. */
  const addHost = async (h: string, secrets: string[]): Promise<void> => {
    expect((await run(["host", "add", h, "--target", "root@127.0.0.1", "--key", pub(h)])).code).toBe(0);
    editJson((r) => secrets.forEach((s) => r.secrets[s]!.hosts.push(h)));
  };
  return { repo, run, json, editJson, blob, adminFile, addHost };
}

describe("secrets rekey after recipients were added", () => {
  it("appends a stanza and keeps file key and payload; the new and old keys open it, a stranger's does not", async () => {
    const { run, json, blob, addHost } = await makeRepo();
    const before = json();
    expect(Object.keys(before.recipientSets ?? {}).sort()).toEqual([...new Set(Object.values(before.secrets).map((s) => s.encryptedTo))].sort());
    const payloads = new Map(["a", "b", "c"].map((s) => [s, payload(blob(s))]));
    const keys = new Map(await Promise.all(["a", "b", "c"].map(async (s) => [s, await fileKey("web1", blob(s))] as const)));
    const d = readFileSync(blob("d"));

    await addHost("web3", ["a", "b", "c"]);
    const r = await run(["secrets", "rekey"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("re-encrypted 3 secrets");
    expect(r.stderr).toContain("3 by adding recipients (file key and payload kept), 0 in full");
    for (const s of ["a", "b", "c"]) {
      expect(payload(blob(s))).toBe(payloads.get(s));
      expect(await fileKey("web1", blob(s))).toBe(keys.get(s));
      expect(parseHeader(readFileSync(blob(s))).stanzas).toHaveLength(4); // admin, web1, web2, web3
      for (const h of ["web3", "web1", "web2"]) expect(ageOpen(h, blob(s)).stdout).toBe(`value of ${s}`);
      expect(ageOpen("stranger", blob(s)).status).not.toBe(0);
    }
    expect(readFileSync(blob("d")).equals(d)).toBe(true);
    // The table holds exactly the sets in use: the old one of a, b, c is gone.
    const after = json();
    const used = [...new Set(Object.values(after.secrets).map((s) => s.encryptedTo))].sort();
    expect(Object.keys(after.recipientSets ?? {}).sort()).toEqual(used);
    expect(used).not.toContain(before.secrets.a!.encryptedTo);
    expect((await run(["secrets", "rekey"])).stderr).toContain("nothing to do");

    // secrets set --add-host goes the same way.
    const dPayload = payload(blob("d"));
    expect((await run(["secrets", "set", "d", "--add-host", "web3"])).code).toBe(0);
    expect(payload(blob("d"))).toBe(dPayload);
    expect(ageOpen("web3", blob("d")).stdout).toBe("value of d");
  });

  it("after host rm, a fresh file key: the removed key opens nothing", async () => {
    const { run, blob } = await makeRepo();
    const payloads = new Map(["a", "b", "c"].map((s) => [s, payload(blob(s))]));
    const keys = new Map(await Promise.all(["a", "b", "c"].map(async (s) => [s, await fileKey("web1", blob(s))] as const)));
    expect((await run(["host", "rm", "web2"])).code).toBe(0);
    const r = await run(["secrets", "rekey"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("0 by adding recipients (file key and payload kept), 3 in full (fresh file key)");
    expect(r.stderr).toContain("a recipient was removed");
    for (const s of ["a", "b", "c"]) {
      expect(payload(blob(s))).not.toBe(payloads.get(s));
      expect(await fileKey("web1", blob(s))).not.toBe(keys.get(s));
      expect(ageOpen("web1", blob(s)).stdout).toBe(`value of ${s}`);
      expect(ageOpen("web2", blob(s)).status).not.toBe(0);
    }
  });

  it("after host set-key, a fresh file key: the old key opens nothing, the new one does", async () => {
    const { run, blob } = await makeRepo();
    const keys = new Map(await Promise.all(["a", "b", "c"].map(async (s) => [s, await fileKey("web1", blob(s))] as const)));
    const r = await run(["host", "set-key", "web2", "--key", pub("web4")]);
    expect(r.code).toBe(0);
    for (const s of ["a", "b", "c"]) {
      expect(await fileKey("web1", blob(s))).not.toBe(keys.get(s));
      expect(ageOpen("web4", blob(s)).stdout).toBe(`value of ${s}`);
      expect(ageOpen("web2", blob(s)).status).not.toBe(0);
    }
  });

  it("an admin added by hand takes the add path; the same admin removed takes the full path", async () => {
    const { run, editJson, blob } = await makeRepo();
    const kept = new Map(["a", "b", "c", "d"].map((s) => [s, payload(blob(s))]));
    editJson((r) => r.admins.push({ name: "second", recipient: pub("stranger") }));
    const added = await run(["secrets", "rekey"]);
    expect(added.stderr).toContain("4 by adding recipients (file key and payload kept), 0 in full");
    for (const s of ["a", "b", "c", "d"]) {
      expect(payload(blob(s))).toBe(kept.get(s));
      expect(ageOpen("stranger", blob(s)).stdout).toBe(`value of ${s}`);
    }
    editJson((r) => (r.admins = r.admins.filter((a) => a.name !== "second")));
    const removed = await run(["secrets", "rekey"]);
    expect(removed.stderr).toContain("0 by adding recipients (file key and payload kept), 4 in full");
    for (const s of ["a", "b", "c", "d"]) {
      expect(payload(blob(s))).not.toBe(kept.get(s));
      expect(ageOpen("stranger", blob(s)).status).not.toBe(0);
      expect(ageOpen("web1", blob(s)).stdout).toBe(`value of ${s}`);
    }
  });

  it("takes the full path for a blob whose header does not match the record (an extra stanza, another key's stanza)", async () => {
    const { run, json, blob, adminFile, addHost } = await makeRepo();
    const admin = await parseIdentityFile(readFileSync(adminFile), "identity.txt");
    const stranger = await parseRecipient(pub("stranger"));
    // a: a current recipient planted a stanza for the stranger (valid MAC: it knows the file key).
    writeFileSync(blob("a"), addRecipients(readFileSync(blob("a")), admin, [stranger]));
    expect(ageOpen("stranger", blob("a")).stdout).toBe("value of a");
    // b: as many stanzas as recorded, but the stranger's in place of web2's.
    const adminRecipient = await parseRecipient(json().admins[0]!.recipient);
    writeFileSync(blob("b"), encrypt(Buffer.from("value of b"), [adminRecipient, await parseRecipient(pub("web1")), stranger]));

    await addHost("web3", ["a", "b", "c"]);
    const r = await run(["secrets", "rekey"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("1 by adding recipients (file key and payload kept), 2 in full");
    expect(r.stderr).toMatch(/full re-encryption of 1 \(a\): the add path did not fit: .*holds 4 stanzas, not the 3/);
    expect(r.stderr).toMatch(/full re-encryption of 1 \(b\): the add path did not fit: .*do not match the recipients/);
    for (const s of ["a", "b", "c"]) {
      expect(ageOpen("stranger", blob(s)).status).not.toBe(0);
      for (const h of ["web1", "web2", "web3"]) expect(ageOpen(h, blob(s)).stdout).toBe(`value of ${s}`);
    }
  });

  it("rekeys an older repo without the recorded sets in full, then records them", async () => {
    const { run, json, editJson, blob, addHost } = await makeRepo();
    editJson((r) => delete r.recipientSets);
    await addHost("web3", ["a", "b"]);
    const r = await run(["secrets", "rekey"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("0 by adding recipients (file key and payload kept), 2 in full");
    expect(r.stderr).toContain("no recorded recipient set");
    for (const s of ["a", "b"]) expect(ageOpen("web3", blob(s)).stdout).toBe(`value of ${s}`);
    expect(json().recipientSets?.[json().secrets.a!.encryptedTo!]).toBeDefined();
    // Recorded now: the next addition takes the add path.
    const kept = payload(blob("a"));
    await addHost("web4", ["a"]);
    const again = await run(["secrets", "rekey"]);
    expect(again.stderr).toContain("1 by adding recipients");
    expect(payload(blob("a"))).toBe(kept);
    expect(ageOpen("web4", blob("a")).stdout).toBe("value of a");
  });

  it("a failed rekey changes no file", async () => {
    const { repo, run, blob, addHost } = await makeRepo();
    await addHost("web3", ["a", "b", "c"]);
    // b: a blob no admin key opens (encrypted by someone else to web1 only).
    writeFileSync(blob("b"), spawnSync("age", ["-e", "-R", `${key("web1")}.pub`], { input: "x" }).stdout);
    const snap = () => {
      const m = snapshotTree(join(repo, "secrets"));
      m.set("nixseal.json", readFileSync(join(repo, "nixseal.json")).toString("base64"));
      return m;
    };
    const before = snap();
    const r = await run(["secrets", "rekey"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot decrypt secrets/b.age with the admin identity");
    expect(snap()).toEqual(before);
  });
});

describe.skipIf(!existsSync(BIN))("a killed secrets rekey", () => {
  it("leaves every blob and nixseal.json as they were; the next run cleans up and succeeds", async () => {
    // A repo of many secrets, built with the library (quicker than many CLI runs).
    const repo = join(work, "killed");
    mkdirSync(join(repo, "secrets"), { recursive: true });
    const admin = generateAgeIdentity();
    const adminFile = join(work, "killed-admin.txt");
    writeFileSync(adminFile, admin.identity + "\n", { mode: 0o600 });
    const r: Repo = { format: REPO_FORMAT, admins: [{ name: "t", recipient: admin.recipient }], hosts: {}, secrets: {} };
    for (const h of ["web1", "web2", "web4"]) r.hosts[h] = { target: "root@127.0.0.1", hostKey: pub(h) };
    // Enough work that the kill lands well before the renames (staging takes about a second here).
    const names = Array.from({ length: 1000 }, (_, i) => `s${i}`);
    for (const s of names) r.secrets[s] = { hosts: ["web1", "web2", "web4"], owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: 1, updatedAt: "2026-01-01T00:00:00Z" };
    const lines = recipientLines(r, "s0");
    const blobs = await encryptMany(names.map((s) => ({ name: s, plaintext: Buffer.from(`value of ${s}`), recipients: lines })));
    for (const s of names) {
      writeFileSync(join(repo, "secrets", `${s}.age`), blobs.get(s)!);
      r.secrets[s]!.encryptedTo = recordRecipientSet(r, lines);
    }
    r.hosts.web3 = { target: "root@127.0.0.1", hostKey: pub("web3") };
    for (const s of names) r.secrets[s]!.hosts.push("web3");
    await saveRepo(repo, r);
    const snap = () => {
      const m = snapshotTree(join(repo, "secrets"));
      for (const k of [...m.keys()]) if (k.endsWith(".tmp")) m.delete(k);
      m.set("nixseal.json", readFileSync(join(repo, "nixseal.json")).toString("base64"));
      return m;
    };
    const before = snap();
    const env = { ...testEnv(work), NIXSEAL_IDENTITY: adminFile };

    // Kill it once the first staged temp appears (blobs are renamed into place only after all are staged).
    const child = spawn(process.execPath, [BIN, "secrets", "rekey", "--all"], { cwd: repo, env: env as NodeJS.ProcessEnv, stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const hasTemp = () => readdirSync(join(repo, "secrets")).some((f) => f.endsWith(".tmp"));
    const staged = await new Promise<boolean>((resolve) => {
      const w = watch(join(repo, "secrets"), () => {
        if (hasTemp()) {
          w.close();
          resolve(true);
        }
      });
      void exited.then(() => {
        w.close();
        resolve(false);
      });
    });
    expect(staged).toBe(true);
    child.kill("SIGKILL");
    expect(await exited).toBeNull();
    expect(snap()).toEqual(before);
    expect(hasTemp()).toBe(true); // left by the killed run (ciphertext only)

    const again = await runNixseal(["secrets", "rekey"], { cwd: repo, env });
    expect(again.code).toBe(0);
    expect(readdirSync(join(repo, "secrets")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(ageOpen("web3", join(repo, "secrets", "s999.age")).stdout).toBe("value of s999");
  });
});

// The embedded file store on its own: blobs by sha256, written once through temp +
// rename; a push that fails part way leaves the previous head whole; damage on disk is
// detected on read; pushes of one host keep their order; the audit log survives a
// restart and a line cut short.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BundleManifest } from "../../core/index.js";
import { FileStore } from "../../server/store/file.js";
import { makeHostKey, pushBodyOf, writeBundle } from "./support.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-server-store-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let pub: string;
beforeAll(() => {
  pub = makeHostKey(work).pub;
});

let sequence = 0;
async function bundle(name: string, host = "web1"): Promise<{ manifest: BundleManifest & { sequence: number }; files: Map<string, Buffer> }> {
  const b = pushBodyOf(await writeBundle(join(work, "bundles", name), pub, [{ name: "db", value: `v-${name}` }, { name: "api", value: `a-${name}` }], host));
  return { manifest: { ...b.manifest, sequence: ++sequence }, files: new Map(Object.entries(b.files).map(([k, v]) => [k, Buffer.from(v, "base64")])) };
}

async function latest(store: FileStore, host: string) {
  const head = await store.head(host);
  return head && store.readBundle(host, head.id);
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

async function freshStore(): Promise<FileStore> {
  const s = new FileStore(mkdtempSync(join(work, "store-")));
  await s.init();
  return s;
}

describe("FileStore", () => {
  it("stores a blob once, under its sha256, mode 0600, with no temp file left", async () => {
    const store = await freshStore();
    const data = randomBytes(1000);
    const sha = await store.putBlob(data);
    expect(sha).toBe(createHash("sha256").update(data).digest("hex"));
    const path = join(store.root, "blobs", sha.slice(0, 2), sha);
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const mtime = statSync(path).mtimeMs;
    expect(await store.putBlob(Buffer.from(data))).toBe(sha);
    expect(statSync(path).mtimeMs).toBe(mtime);
    expect(allFiles(store.root)).toEqual([join(store.root, "audit.log"), path].sort());
    expect((await store.getBlob(sha)).equals(data)).toBe(true);
    expect(statSync(join(store.root, "blobs")).mode & 0o777).toBe(0o700);
  });

  it("detects a blob changed or lost on disk", async () => {
    const store = await freshStore();
    const sha = await store.putBlob(Buffer.from("age-encryption.org/v1\n"));
    const path = join(store.root, "blobs", sha.slice(0, 2), sha);
    writeFileSync(path, "age-encryption.org/v2\n");
    await expect(store.getBlob(sha)).rejects.toMatchObject({ code: "NIXSEAL_ERR_SERVER_CORRUPT", statusCode: 500 });
    rmSync(path);
    await expect(store.getBlob(sha)).rejects.toMatchObject({ code: "NIXSEAL_ERR_SERVER_CORRUPT" });
  });

  it("a push that fails part way leaves the previous latest bundle whole", async () => {
    const store = await freshStore();
    const a = await bundle("a");
    const b = await bundle("b");
    await store.saveBundle(a.manifest, a.files, undefined);
    // The record of b cannot be written (a directory is in its place): blobs of b may
    // land, the record and the latest pointer must not.
    mkdirSync(join(store.root, "hosts", "web1", "bundles", `${b.manifest.id}.json`), { recursive: true });
    await expect(store.saveBundle(b.manifest, b.files, undefined)).rejects.toThrow();
    const head = await latest(store, "web1");
    expect(head?.id).toBe(a.manifest.id);
    expect([...head!.files.values()].map((f) => f.toString("base64"))).toEqual(a.manifest.secrets.map((s) => a.files.get(s.file)!.toString("base64")));
    expect(allFiles(store.root).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // Once the obstacle is gone the same push goes through.
    rmSync(join(store.root, "hosts", "web1", "bundles", `${b.manifest.id}.json`), { recursive: true });
    expect(await store.saveBundle(b.manifest, b.files, undefined)).toMatchObject({ head: { id: b.manifest.id }, created: true });
    expect((await latest(store, "web1"))?.id).toBe(b.manifest.id);
  });

  it("a latest pointer that cannot be replaced fails the push and leaves no temp file", async () => {
    const store = await freshStore();
    const a = await bundle("c");
    const b = await bundle("d");
    await store.saveBundle(a.manifest, a.files, undefined);
    // rename() cannot replace a non-empty directory (not even as root).
    const headFile = join(store.root, "hosts", "web1", "head");
    rmSync(headFile);
    mkdirSync(join(headFile, "x"), { recursive: true });
    await expect(store.saveBundle(b.manifest, b.files, undefined)).rejects.toThrow();
    expect(existsSync(join(headFile, "x"))).toBe(true);
    expect((await store.head("web1"))?.id).toBe(a.manifest.id);
    expect(allFiles(store.root).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // The record was written before the pointer: b is readable by id.
    expect((await store.readBundle("web1", b.manifest.id))?.id).toBe(b.manifest.id);
  });

  it("a damaged head is damage, not 'no bundle'", async () => {
    const root = mkdtempSync(join(work, "store-"));
    mkdirSync(join(root, "hosts", "web1"), { recursive: true });
    writeFileSync(join(root, "hosts", "web1", "head"), "{not json");
    await expect(new FileStore(root).init()).rejects.toMatchObject({ code: "NIXSEAL_ERR_SERVER_CORRUPT" });
    const store = await freshStore();
    expect(await store.head("web2")).toBeUndefined();
    expect(await store.readBundle("web1", "e".repeat(64))).toBeUndefined();
  });

  it("refuses a sequence not above the head, and keeps heads and the audit log across a restart", async () => {
    const store = await freshStore();
    const a = await bundle("s1");
    await store.saveBundle(a.manifest, a.files, undefined);
    const old = await bundle("s0");
    old.manifest.sequence = a.manifest.sequence;
    await expect(store.saveBundle(old.manifest, old.files, undefined)).rejects.toMatchObject({ head: a.manifest.sequence, sequence: a.manifest.sequence });
    await store.audit({ at: new Date().toISOString(), actor: "token", action: "push-bundle", host: "web1" });
    await store.audit({ at: new Date().toISOString(), actor: "host:web1", action: "fetch", host: "web1" });
    await store.close();
    // A crash mid-append leaves a line cut short: it is skipped, the next one starts fresh.
    writeFileSync(join(store.root, "audit.log"), '{"seq":3,"at":"cut', { flag: "a" });
    const again = new FileStore(store.root);
    await again.init();
    expect((await again.head("web1"))?.id).toBe(a.manifest.id);
    await again.audit({ at: new Date().toISOString(), actor: "token", action: "push-fleet" });
    expect((await again.auditLog({ limit: 10 })).map((e) => [e.seq, e.action])).toEqual([
      [3, "push-fleet"],
      [2, "fetch"],
      [1, "push-bundle"],
    ]);
    expect((await again.auditLog({ limit: 10, host: "web1", before: 2 })).map((e) => e.seq)).toEqual([1]);
    await again.close();
  });

  it("pushes of one host run in the order they arrived: latest is the last one", async () => {
    const store = await freshStore();
    const many = await Promise.all(Array.from({ length: 8 }, (_, i) => bundle(`p${i}`)));
    const results = await Promise.all(many.map((b) => store.saveBundle(b.manifest, b.files, undefined)));
    expect(results.every((r) => r.created)).toBe(true);
    expect((await latest(store, "web1"))?.id).toBe(many.at(-1)!.manifest.id);
    for (const b of many) expect((await store.readBundle("web1", b.manifest.id))?.manifest).toEqual(b.manifest);
    // Pushed out of order (a lower sequence after a higher one) the later is refused.
    // Two bundles share no blob here, so 8 x 2 files + 8 manifests.
    expect(readdirSync(join(store.root, "blobs"), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length).toBe(24);
  });
});

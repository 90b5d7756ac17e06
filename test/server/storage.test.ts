// The content-addressed store on its own: blobs by sha256, written once through
// temp + rename; a push that fails part way leaves the previous latest bundle whole;
// damage on disk is detected on read; pushes of one host keep their order.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BundleManifest } from "../../core/index.js";
import { BundleStore } from "../../server/storage.js";
import { makeHostKey, pushBodyOf, writeBundle } from "./support.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-server-store-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let pub: string;
beforeAll(() => {
  pub = makeHostKey(work).pub;
});

async function bundle(name: string, host = "web1"): Promise<{ manifest: BundleManifest; files: Map<string, Buffer> }> {
  const b = pushBodyOf(await writeBundle(join(work, "bundles", name), pub, [{ name: "db", value: `v-${name}` }, { name: "api", value: `a-${name}` }], host));
  return { manifest: b.manifest, files: new Map(Object.entries(b.files).map(([k, v]) => [k, Buffer.from(v, "base64")])) };
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

async function freshStore(): Promise<BundleStore> {
  const s = new BundleStore(mkdtempSync(join(work, "store-")));
  await s.init();
  return s;
}

describe("BundleStore", () => {
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
    expect(allFiles(store.root)).toEqual([path]);
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
    await store.saveBundle(a.manifest, a.files);
    // The record of b cannot be written (a directory is in its place): blobs of b may
    // land, the record and the latest pointer must not.
    mkdirSync(join(store.root, "hosts", "web1", "bundles", `${b.manifest.id}.json`), { recursive: true });
    await expect(store.saveBundle(b.manifest, b.files)).rejects.toThrow();
    const latest = await store.latest("web1");
    expect(latest?.id).toBe(a.manifest.id);
    expect([...latest!.files.values()].map((f) => f.toString("base64"))).toEqual(a.manifest.secrets.map((s) => a.files.get(s.file)!.toString("base64")));
    expect(allFiles(store.root).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // Once the obstacle is gone the same push goes through.
    rmSync(join(store.root, "hosts", "web1", "bundles", `${b.manifest.id}.json`), { recursive: true });
    expect(await store.saveBundle(b.manifest, b.files)).toMatchObject({ id: b.manifest.id, created: true });
    expect((await store.latest("web1"))?.id).toBe(b.manifest.id);
  });

  it("a latest pointer that cannot be replaced fails the push and leaves no temp file", async () => {
    const store = await freshStore();
    const a = await bundle("c");
    const b = await bundle("d");
    await store.saveBundle(a.manifest, a.files);
    // rename() cannot replace a non-empty directory (not even as root).
    const latest = join(store.root, "hosts", "web1", "latest");
    rmSync(latest);
    mkdirSync(join(latest, "x"), { recursive: true });
    await expect(store.saveBundle(b.manifest, b.files)).rejects.toThrow();
    expect(existsSync(join(latest, "x"))).toBe(true);
    expect(allFiles(store.root).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // The record was written before the pointer: b is readable by id.
    expect((await store.readBundle("web1", b.manifest.id))?.id).toBe(b.manifest.id);
  });

  it("a pointer to a missing record is damage, not 'no bundle'", async () => {
    const store = await freshStore();
    mkdirSync(join(store.root, "hosts", "web1"), { recursive: true });
    writeFileSync(join(store.root, "hosts", "web1", "latest"), "f".repeat(64) + "\n");
    await expect(store.latest("web1")).rejects.toMatchObject({ code: "NIXSEAL_ERR_SERVER_CORRUPT" });
    expect(await store.latest("web2")).toBeUndefined();
    expect(await store.readBundle("web1", "e".repeat(64))).toBeUndefined();
  });

  it("pushes of one host run in the order they arrived: latest is the last one", async () => {
    const store = await freshStore();
    const many = await Promise.all(Array.from({ length: 8 }, (_, i) => bundle(`p${i}`)));
    const results = await Promise.all(many.map((b) => store.saveBundle(b.manifest, b.files)));
    expect(results.every((r) => r.created)).toBe(true);
    expect((await store.latest("web1"))?.id).toBe(many.at(-1)!.manifest.id);
    for (const b of many) expect((await store.readBundle("web1", b.manifest.id))?.manifest).toEqual(b.manifest);
    // Two bundles share no blob here, so 8 x 2 files + 8 manifests.
    expect(readdirSync(join(store.root, "blobs"), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length).toBe(24);
  });
});

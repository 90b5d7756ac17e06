// The embedded file store on its own: bundles appended to one log (each file once per
// host), many stored with one append; a refused bundle holds back no other; damage is
// detected on read, a frame cut short by a crash is cut off at the next start, damage
// before the end stops the start; a write that fails (a full filesystem, a real tmpfs)
// leaves the previous head whole and the log as it was; heads, fetch records, the audit
// log and claims (nonces, links, sessions) survive a restart, and after the machine went
// down without the store closing its logs, requests signed before the start are refused.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FileStore } from "../../server/store/file.js";
import type { BundleToSave } from "../../server/store/types.js";
import { makeHostKey, mountTmpfs, occurrences, pushBodyOf, umount, writeBundle } from "./support.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-server-store-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let pub: string;
beforeAll(() => {
  pub = makeHostKey(work).pub;
});

let sequence = 0;
let made = 0;
async function bundle(host = "web1", size = 0): Promise<BundleToSave> {
  const pad = size ? "x".repeat(size) : "";
  const b = pushBodyOf(await writeBundle(join(work, "bundles", String(++made)), pub, [{ name: "db", value: `v-${made}${pad}` }, { name: "api", value: `a-${made}` }], host));
  return { manifest: { ...b.manifest, sequence: ++sequence }, files: new Map(Object.entries(b.files).map(([k, v]) => [k, Buffer.from(v, "base64")])), signature: undefined };
}

/** The same secrets as b, one of them replaced by a new ciphertext (a rotation), under a new id. */
async function rotated(b: BundleToSave, secret: string): Promise<BundleToSave> {
  const fresh = await bundle(b.manifest.host);
  const manifest = structuredClone(b.manifest);
  const files = new Map(b.files);
  const s = manifest.secrets.find((x) => x.name === secret)!;
  const blob = fresh.files.get(s.file)!;
  files.set(s.file, blob);
  s.sha256 = createHash("sha256").update(blob).digest("hex");
  s.version++;
  manifest.id = createHash("sha256").update(JSON.stringify(manifest.secrets)).digest("hex");
  manifest.sequence = ++sequence;
  return { manifest, files, signature: undefined };
}

async function latest(store: FileStore, host: string) {
  const head = await store.head(host);
  return head && store.readBundle(host, head.id);
}

async function freshStore(root = mkdtempSync(join(work, "store-"))): Promise<FileStore> {
  const s = new FileStore(root);
  await s.init();
  return s;
}

async function reopen(store: FileStore): Promise<FileStore> {
  await store.close();
  return freshStore(store.root);
}

const ok = (outcomes: Awaited<ReturnType<FileStore["saveBundles"]>>) => outcomes.map((o) => (o.ok ? `ok:${o.created ? "new" : "same"}` : o.error.constructor.name));

describe("FileStore", () => {
  it("appends each file once: the same content again, an unchanged secret of a rotation and a file two hosts share are referenced, not copied", async () => {
    const store = await freshStore();
    const a = await bundle();
    expect(ok(await store.saveBundles([a]))).toEqual(["ok:new"]);
    const log = join(store.root, "bundles.log");
    expect(statSync(log).mode & 0o777).toBe(0o600);
    expect(statSync(store.root).mode & 0o777).toBe(0o700);
    const again = { ...a, manifest: { ...a.manifest, sequence: ++sequence, createdAt: new Date(Date.now() + 1000).toISOString() } };
    expect(ok(await store.saveBundles([again]))).toEqual(["ok:same"]);
    const b = await rotated(a, "db");
    expect(ok(await store.saveBundles([b]))).toEqual(["ok:new"]);
    // One file encrypted to two hosts (a shared secret) travels in both bundles, stored once.
    const shared = { ...a, manifest: { ...structuredClone(a.manifest), host: "web2", sequence: ++sequence } };
    expect(ok(await store.saveBundles([shared]))).toEqual(["ok:new"]);
    const api = a.files.get("api.age")!;
    expect(occurrences(log, api)).toBe(1);
    expect(occurrences(log, a.files.get("db.age")!)).toBe(1);
    expect(occurrences(log, b.files.get("db.age")!)).toBe(1);
    // Both served whole, also after a restart (the index is rebuilt from the log).
    const back = await reopen(store);
    for (const x of [a, b, shared]) {
      const got = (await back.readBundle(x.manifest.host, x.manifest.id))!;
      expect(got.manifest.secrets.map((s) => s.sha256)).toEqual(x.manifest.secrets.map((s) => s.sha256));
      for (const s of x.manifest.secrets) expect(got.files.get(s.file)!.equals(x.files.get(s.file)!)).toBe(true);
    }
    expect((await back.head("web1"))).toMatchObject({ id: b.manifest.id, sequence: b.manifest.sequence });
    expect(readdirSync(back.root).sort()).toEqual(["audit.log", "bundles.log", "claims.log", "fetches.log"]);
    await back.close();
  });

  it("stores many hosts' bundles in one append; a refused one (sequence, id conflict) holds back none", async () => {
    const store = await freshStore();
    const first = await bundle("web2");
    await store.saveBundles([first]);
    const append = vi.spyOn((store as unknown as { bundles: { append: (...a: unknown[]) => unknown } }).bundles, "append");
    const items = await Promise.all(["web1", "web2", "web3", "web4"].map((h) => bundle(h)));
    items[1]!.manifest.sequence = first.manifest.sequence; // not above web2's head
    const outcomes = await store.saveBundles([...items, await bundle("web5")]);
    expect(ok(outcomes)).toEqual(["ok:new", "SequenceConflict", "ok:new", "ok:new", "ok:new"]);
    expect(append).toHaveBeenCalledTimes(1);
    // A different bundle under an id a host already has is refused, the others of the batch stored.
    const clash = { ...(await bundle("web1")), manifest: { ...(await bundle("web1")).manifest, id: items[0]!.manifest.id } };
    const next = await bundle("web4");
    expect(ok(await store.saveBundles([clash, next]))).toEqual(["IdConflict", "ok:new"]);
    expect((await store.head("web1"))?.id).toBe(items[0]!.manifest.id);
    expect((await store.head("web2"))?.id).toBe(first.manifest.id);
    expect((await store.head("web4"))?.id).toBe(next.manifest.id);
    // Saves that overlap go out together too.
    append.mockClear();
    const more = await Promise.all(["web6", "web7", "web8"].map((h) => bundle(h)));
    const heard: string[] = [];
    store.onBundle((h) => heard.push(h));
    await Promise.all(more.map((m) => store.saveBundles([m])));
    expect(append.mock.calls.length).toBeLessThanOrEqual(2);
    expect(heard.sort()).toEqual(["web6", "web7", "web8"]);
    await store.close();
  });

  it("detects damage: a changed byte of a file is never served; a damaged frame before the end stops the start, naming the byte", async () => {
    const store = await freshStore();
    const a = await bundle();
    const b = await bundle();
    await store.saveBundles([a]);
    await store.saveBundles([b]);
    const log = join(store.root, "bundles.log");
    const raw = readFileSync(log);
    const at = raw.indexOf(a.files.get("db.age")!);
    raw[at + 40] ^= 0xff;
    writeFileSync(log, raw);
    await expect(store.readBundle("web1", a.manifest.id)).rejects.toMatchObject({ code: "NIXSEAL_ERR_SERVER_CORRUPT", statusCode: 500 });
    expect((await latest(store, "web1"))?.id).toBe(b.manifest.id);
    await store.close();
    raw[at + 40] ^= 0xff;
    raw[50] ^= 0xff; // inside the first frame's header
    writeFileSync(log, raw);
    await expect(freshStore(store.root)).rejects.toMatchObject({ code: "NIXSEAL_ERR_SERVER_CORRUPT", message: "stored object bundles.log at byte 0 does not match its sha256" });
    // A damaged length that points past the end is damage too, not a crash's cut: the frame after it is whole.
    raw[50] ^= 0xff;
    raw[5] ^= 0x7f;
    writeFileSync(log, raw);
    await expect(freshStore(store.root)).rejects.toMatchObject({ code: "NIXSEAL_ERR_SERVER_CORRUPT" });
    expect(readFileSync(log).equals(raw)).toBe(true);
  });

  it("a frame cut short at the end (a crash mid-write) is cut off at the next start; the previous head is whole and appends go on", async () => {
    const store = await freshStore();
    const a = await bundle();
    await store.saveBundles([a]);
    const log = join(store.root, "bundles.log");
    const whole = statSync(log).size;
    const b = await bundle();
    await store.saveBundles([b]);
    await store.close();
    const full = readFileSync(log);
    for (const cut of [whole + 10, whole + 100, full.length - 1]) {
      writeFileSync(log, full.subarray(0, cut));
      const back = await freshStore(store.root);
      expect(statSync(log).size).toBe(whole);
      const head = (await latest(back, "web1"))!;
      expect(head.id).toBe(a.manifest.id);
      expect(head.files.get("db.age")!.equals(a.files.get("db.age")!)).toBe(true);
      expect(await back.readBundle("web1", b.manifest.id)).toBeUndefined();
      await back.close();
    }
    const back = await freshStore(store.root);
    const c = await bundle();
    expect(ok(await back.saveBundles([c]))).toEqual(["ok:new"]);
    expect((await latest(await reopen(back), "web1"))?.id).toBe(c.manifest.id);
  });

  it("a write that fails (the filesystem is full) fails the save, leaves the previous head whole and the log as it was", async () => {
    const mnt = mkdtempSync(join(work, "full-"));
    mountTmpfs(mnt, "256k");
    try {
      const store = await freshStore(join(mnt, "store"));
      const a = await bundle();
      await store.saveBundles([a]);
      const size = statSync(join(store.root, "bundles.log")).size;
      const big = await bundle("web1", 400 * 1024);
      await expect(store.saveBundles([big])).rejects.toMatchObject({ code: "ENOSPC" });
      expect(statSync(join(store.root, "bundles.log")).size).toBe(size);
      expect((await latest(store, "web1"))?.id).toBe(a.manifest.id);
      const small = await bundle();
      expect(ok(await store.saveBundles([small]))).toEqual(["ok:new"]);
      expect((await latest(await reopen(store), "web1"))?.id).toBe(small.manifest.id);
    } finally {
      umount(mnt);
    }
  });

  it("refuses a sequence not above the head, and keeps heads, fetch records and the audit log across a restart", async () => {
    const store = await freshStore();
    const a = await bundle();
    await store.saveBundles([a]);
    const old = await bundle();
    old.manifest.sequence = a.manifest.sequence;
    const [refused] = await store.saveBundles([old]);
    expect(refused).toMatchObject({ ok: false, error: { head: a.manifest.sequence, sequence: a.manifest.sequence } });
    await store.audit([{ at: new Date().toISOString(), actor: "token", action: "push-bundle", host: "web1" }], true);
    await store.recordFetch("web1", { id: a.manifest.id, sequence: a.manifest.sequence, at: "2026-12-01T00:00:00.000Z" }, { at: new Date().toISOString(), actor: "host:web1", action: "fetch", host: "web1" });
    await store.close();
    // A crash mid-append leaves a line cut short: it is skipped, the next one starts fresh.
    writeFileSync(join(store.root, "audit.log"), '{"seq":3,"at":"cut', { flag: "a" });
    const again = await freshStore(store.root);
    expect((await again.head("web1"))?.id).toBe(a.manifest.id);
    expect((await again.fetches()).get("web1")).toEqual({ id: a.manifest.id, sequence: a.manifest.sequence, at: "2026-12-01T00:00:00.000Z" });
    await again.audit([{ at: new Date().toISOString(), actor: "token", action: "push-fleet" }]);
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
    const many = await Promise.all(Array.from({ length: 8 }, () => bundle()));
    const results = await Promise.all(many.map((b) => store.saveBundles([b])));
    expect(results.flat().every((r) => r.ok && r.created)).toBe(true);
    expect((await latest(store, "web1"))?.id).toBe(many.at(-1)!.manifest.id);
    for (const b of many) expect((await store.readBundle("web1", b.manifest.id))?.manifest).toEqual(b.manifest);
    await store.close();
  });

  it("claims outlive a restart and a killed process; after a crash of the machine, requests signed before the start are refused", async () => {
    const store = await freshStore();
    expect(store.claimsSinceMs).toBe(0);
    const soon = Date.now() + 60_000;
    expect(await store.claimOnce("nonce:a", soon)).toBe(true);
    expect(await store.claimOnce("nonce:gone", Date.now() - 1)).toBe(true); // already expired: dropped at the next compaction
    expect(await store.claimOnce("login:x", soon)).toBe(true);
    expect(await store.takeOnce("login:x")).toBe(true);
    expect(await store.claimOnce("session:s", soon)).toBe(true);
    // Closed and opened again: everything is there, nothing predating the start is refused for that.
    const back = await reopen(store);
    expect(back.claimsSinceMs).toBe(0);
    expect(await back.claimOnce("nonce:a", soon)).toBe(false);
    expect(await back.takeOnce("login:x")).toBe(false);
    expect(await back.holds("session:s")).toBe(true);
    // Killed (never closed): the kernel kept what was written, this boot's claims still count.
    expect(await back.claimOnce("nonce:b", soon)).toBe(true);
    const afterKill = await freshStore(back.root);
    expect(afterKill.claimsSinceMs).toBe(0);
    expect(await afterKill.claimOnce("nonce:b", soon)).toBe(false);
    // Compacted at start: expired claims are gone from the log.
    const text = readFileSync(join(back.root, "claims.log"), "utf8");
    expect(text).not.toContain("nonce:gone");
    expect(text).toContain("nonce:b");
    // Written by another boot and never closed: what it wrote last may be lost.
    const lines = text.split("\n").map((l) => (l.startsWith('{"boot"') ? JSON.stringify({ boot: "another-boot", at: 1 }) : l));
    writeFileSync(join(back.root, "claims.log"), lines.join("\n"));
    const t0 = Date.now();
    const afterCrash = await freshStore(back.root);
    expect(afterCrash.claimsSinceMs).toBeGreaterThanOrEqual(t0);
    expect(await afterCrash.claimOnce("nonce:b", soon)).toBe(false);
    // Closed cleanly (everything flushed), even a log of another boot is trusted whole.
    await afterCrash.close();
    const closedText = readFileSync(join(back.root, "claims.log"), "utf8");
    expect(closedText).toMatch(/\{"closed":\d+\}\n$/);
    writeFileSync(join(back.root, "claims.log"), closedText.replace(/\{"boot":"[^"]*"/, '{"boot":"another-boot"'));
    const clean = await freshStore(back.root);
    expect(clean.claimsSinceMs).toBe(0);
    expect(await clean.claimOnce("nonce:b", soon)).toBe(false);
    await clean.close();
    await afterKill.close().catch(() => {});
    // The "killed" store's files, closed only now that the test is done with what it left.
    await back.close().catch(() => {});
  });

  it("refuses a storage directory of the earlier per-file layout, changing nothing", async () => {
    const root = mkdtempSync(join(work, "old-"));
    mkdirSync(join(root, "hosts", "web1"), { recursive: true });
    writeFileSync(join(root, "hosts", "web1", "head"), "{}");
    await expect(freshStore(root)).rejects.toMatchObject({ code: "NIXSEAL_ERR_SERVER_USAGE", message: expect.stringContaining("per-file layout of an earlier nixseal-server") });
    expect(readdirSync(root)).toEqual(["hosts"]);
  });
});

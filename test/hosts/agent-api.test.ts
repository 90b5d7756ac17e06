// The API as deploy uses it, through the root-only socket of the sandboxed
// nixseal-agent.service on a real systemd host: stage, activate, rollback, and the
// restart/reload of the units that changed secrets name (each once, only for real
// changes), done by systemctl from inside the sandbox.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import { makeHostKey, writeBundle, type TestSecret } from "../host-agent/support.js";
import { agentCall, recordingUnit as unit } from "./agent-support.js";

const v = (l: string) => `${l}-${randomBytes(12).toString("hex")}`;
const UPLOADS = "/var/lib/nixseal/staging"; // readable by the sandboxed service, as deploy uses it
const local = mkdtempSync(join(tmpdir(), "nixseal-agent-api-"));

describe("agent API on a real host (sandboxed service, systemctl from inside)", () => {
  let h: TestHost;
  const ship = async (dirName: string, secrets: TestSecret[]): Promise<string> => {
    const dir = await writeBundle(join(local, dirName), h.hostKeys.ed25519Pub, secrets, h.name);
    for (const f of readdirSync(dir)) await h.writeFile(`${UPLOADS}/${dirName}/${f}`, readFileSync(join(dir, f)), 0o600);
    return `${UPLOADS}/${dirName}`;
  };
  const post = async (path: string, body: unknown) => {
    const r = await agentCall(h, "POST", path, body);
    return { status: r.status, body: JSON.parse(r.body) };
  };
  const events = async (svc: string) => (await h.exec(`cat /var/lib/svc/${svc} 2>/dev/null || true`)).stdout.split("\n").filter(Boolean);

  beforeAll(async () => {
    h = await bootHost("agentapi");
    await h.exec("nixseal-agent install >/tmp/install.log 2>&1 || { cat /tmp/install.log >&2; exit 1; }", { timeoutMs: 90_000 });
    for (const s of ["svc-a", "svc-b", "svc-c"]) await h.writeFile(`/etc/systemd/system/${s}.service`, unit(s));
    await h.exec("systemctl daemon-reload");
  });
  afterAll(async () => {
    await h?.stop();
    rmSync(local, { recursive: true, force: true }); // bundles and a throwaway host key
  });

  const values = { a: v("a"), b: v("b"), c: v("c"), d: v("d") };
  const gen = (a: string, bMode: string, d: string): TestSecret[] => [
    { name: "a", value: a, restartUnits: ["svc-a.service"] },
    { name: "b", value: values.b, mode: bMode, reloadUnits: ["svc-b.service"] },
    { name: "c", value: values.c, restartUnits: ["svc-c.service"] },
    { name: "d", value: d, restartUnits: ["svc-a.service"] },
  ];

  it("stage + activate over the socket, then only the units of changed secrets restart or reload, each once", async () => {
    const s1 = await post("/stage", { dir: await ship("b1", gen(values.a, "0400", values.d)) });
    expect(s1).toMatchObject({ status: 200, body: { generation: 1, existing: false } });
    const a1 = await post("/activate", { generation: 1 });
    expect(a1).toMatchObject({ status: 200, body: { ok: true, units: { restarted: ["svc-a.service", "svc-c.service"], reloaded: ["svc-b.service"] } } });
    // the units were not running: try-restart leaves them stopped, and each result says so
    expect(a1.body.units.results).toEqual([
      { unit: "svc-a.service", action: "restart", result: "not-running" },
      { unit: "svc-c.service", action: "restart", result: "not-running" },
      { unit: "svc-b.service", action: "reload", result: "not-running" },
    ]);
    expect(await events("svc-a")).toEqual([]);
    await h.exec("systemctl start svc-a svc-b svc-c");
    await h.waitFor(async () => (await events("svc-c")).length === 1, 10_000, "services started");

    // a and d change content, b changes mode only, c is the same value encrypted afresh
    const s2 = await post("/stage", { dir: await ship("b2", gen(v("a2"), "0440", v("d2"))) });
    expect(s2.body).toMatchObject({ generation: 2, existing: false });
    const a2 = await post("/activate", { generation: 2 });
    expect(a2).toMatchObject({ status: 200, body: { ok: true, generation: 2 } });
    expect(a2.body.changed.sort()).toEqual(["a", "b", "d"]);
    expect(a2.body.units).toEqual({
      restarted: ["svc-a.service"],
      reloaded: ["svc-b.service"],
      results: [
        { unit: "svc-a.service", action: "restart", result: "ok" },
        { unit: "svc-b.service", action: "reload", result: "ok" },
      ],
    });
    expect(a2.body.units.error).toBeUndefined();
    await h.waitFor(async () => (await events("svc-a")).length === 2, 10_000, "svc-a restarted");
    expect(await events("svc-a")).toEqual(["start", "start"]); // once, although a and d both name it
    expect(await events("svc-b")).toEqual(["start", "reload"]);
    expect(await events("svc-c")).toEqual(["start"]);
    expect((await h.exec("stat -c %a /run/keys/b")).stdout.trim()).toBe("440");
  });

  it("rollback over the socket puts generation 1 back and says what changed", async () => {
    const r = await post("/rollback", {});
    expect(r).toMatchObject({ status: 200, body: { ok: true, generation: 1 } });
    expect(r.body.changed.sort()).toEqual(["a", "b", "d"]);
    expect((await h.exec("cat /run/keys/a")).stdout).toBe(values.a);
    const status = JSON.parse((await agentCall(h, "GET", "/status")).body);
    expect(status).toMatchObject({ current: 1, previous: 2 });
  });

  it("Secret.path links: made where readWritePaths allows, reported with a hint elsewhere", async () => {
    await h.exec(`mkdir -p /etc/app /srv/other /etc/nixseal && echo '{"readWritePaths":["/etc/app"]}' > /etc/nixseal/agent.json && nixseal-agent install >/dev/null 2>&1`, { timeoutMs: 90_000 });
    expect((await h.exec("systemctl show -P ReadWritePaths nixseal-agent.service")).stdout).toContain("/etc/app");
    const dir = await ship("paths", [
      { name: "p1", value: v("p1"), path: "/etc/app/db.key" },
      { name: "p2", value: v("p2"), path: "/srv/other/key" },
    ]);
    const s = await post("/stage", { dir });
    const a = await post("/activate", { generation: s.body.generation });
    expect(a.status).toBe(200);
    expect(a.body.ok).toBe(false); // the files are live; one link could not be made
    expect(a.body.secrets.find((x: { name: string }) => x.name === "p1")).toMatchObject({ ok: true });
    expect(a.body.secrets.find((x: { name: string }) => x.name === "p2")).toMatchObject({ ok: false, code: "NIXSEAL_ERR_AGENT_LINK" });
    expect((await h.exec("readlink /etc/app/db.key")).stdout.trim()).toBe("/run/nixseal/current/p1");
    expect((await h.exec("test -e /srv/other/key", { check: false })).code).not.toBe(0);
    const status = JSON.parse((await agentCall(h, "GET", "/status")).body);
    expect(status.secrets.find((x: { name: string }) => x.name === "p2").hints[0]).toContain("readWritePaths");
    await post("/rollback", {});
  });

  it("the sandbox hides /root from the service: a clear error naming where uploads go", async () => {
    const dir = await writeBundle(join(local, "in-root"), h.hostKeys.ed25519Pub, [{ name: "r", value: v("r") }], h.name);
    for (const f of readdirSync(dir)) await h.writeFile(`/root/in-root/${f}`, readFileSync(join(dir, f)), 0o600);
    const r = await post("/stage", { dir: "/root/in-root" });
    expect(r).toMatchObject({ status: 400, body: { code: "NIXSEAL_ERR_AGENT_BUNDLE_INVALID" } });
    expect(r.body.hints[0]).toContain("/var/lib/nixseal/staging");
  });

  it("stage decrypts with the host's RSA key too, and refuses a bundle for a key the host does not hold", async () => {
    expect(await post("/stage", { dir: await ship("ed", [{ name: "r", value: v("r") }]) })).toMatchObject({ status: 200 });
    const rsa = await writeBundle(join(local, "rsa-only"), h.hostKeys.rsaPub, [{ name: "r", value: v("r") }], h.name);
    for (const f of readdirSync(rsa)) await h.writeFile(`${UPLOADS}/rsa-only/${f}`, readFileSync(join(rsa, f)), 0o600);
    expect(await post("/stage", { dir: `${UPLOADS}/rsa-only` })).toMatchObject({ status: 200, body: { existing: false } });
    const stranger = makeHostKey(mkdtempSync(join(local, "stranger-")));
    const foreign = await writeBundle(join(local, "foreign"), stranger.pub, [{ name: "x", value: v("x") }], h.name);
    for (const f of readdirSync(foreign)) await h.writeFile(`${UPLOADS}/foreign/${f}`, readFileSync(join(foreign, f)), 0o600);
    const r = await post("/stage", { dir: `${UPLOADS}/foreign` });
    expect(r).toMatchObject({ status: 400, body: { code: "NIXSEAL_ERR_AGENT_DECRYPT" } });
    expect(r.body.message).toContain("secret 'x' cannot be decrypted with this host's keys");
    expect(JSON.parse((await agentCall(h, "GET", "/status")).body)).toMatchObject({ current: 1 });
  });
});

// Templates on a real test host: a Caddyfile-like config and an env file consumed by
// two services (real systemd, EnvironmentFile=), rendered by the agent into the secrets
// tmpfs. Rotating one referenced secret re-renders and restarts only its service; a
// reboot restores the rendered files; a template naming a secret the host does not get
// is refused before anything is uploaded; no value reaches the host's disk.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHost, grepTree, newRepo, nixseal, nixsealOk, prepareHost, type TestRepo } from "./fixtures/deploy-env.js";
import { bootHost, type TestHost } from "./harness/index.js";

let h: TestHost;
let repo: TestRepo;
const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const values = { "acme-email": "ops-acme@example.org", "dns-token": "dns-token-5f1e9a7c2b", "api-key": "api-key-0c8d3e" };

const CADDYFILE = `{
\temail {{ secret "acme-email" }}
}

blog.example.org {
\ttls {
\t\tdns cloudflare {{secret "dns-token"}}
\t}
\treverse_proxy localhost:8080 {
\t\theader_up X-Real-IP {remote_host}
\t}
}
`;
const APP_ENV = `API_KEY={{ secret "api-key" }}\nLOG_LEVEL=info\n`;
const render = (text: string, v: Record<string, string>) => text.replace(/\{\{\s*secret\s+"([^"]+)"\s*\}\}/g, (_, n: string) => v[n]!);

const CADDY = `[Unit]
Wants=nixseal-secrets.target
After=nixseal-secrets.target
[Service]
User=caddy
RuntimeDirectory=caddy
ExecStart=/bin/sh -c 'sha256sum < /run/keys/Caddyfile > /run/caddy/seen && exec sleep infinity'
[Install]
WantedBy=multi-user.target
`;
const APP = `[Unit]
Wants=nixseal-secrets.target
After=nixseal-secrets.target
[Service]
User=app
EnvironmentFile=/run/keys/app.env
RuntimeDirectory=app
ExecStart=/bin/sh -c 'printf %%s "$API_KEY" | sha256sum > /run/app/seen && exec sleep infinity'
[Install]
WantedBy=multi-user.target
`;

async function invocation(unit: string): Promise<string> {
  return (await h.exec(`systemctl show -P InvocationID ${unit}`)).stdout.trim();
}
async function seen(file: string): Promise<string> {
  return (await h.exec(`cut -d' ' -f1 ${file}`)).stdout.trim();
}
async function deploy() {
  return nixseal(repo, ["deploy", "tmpl1", "--secrets-only", "--ssh-key", h.operatorKeyPath]);
}

beforeAll(async () => {
  h = await bootHost("tmpl1");
  repo = await newRepo();
  await prepareHost(h, ["caddy", "app"]);
  await h.writeFile("/etc/systemd/system/caddy.service", CADDY);
  await h.writeFile("/etc/systemd/system/app.service", APP);
  await h.exec("systemctl daemon-reload && systemctl enable caddy.service app.service");
  await addHost(repo, h);
  for (const [name, v] of Object.entries(values)) await nixsealOk(repo, ["secrets", "add", name, "--host", "tmpl1"], { stdin: v });
  writeFileSync(join(repo.dir, "..", "Caddyfile"), CADDYFILE);
  writeFileSync(join(repo.dir, "..", "app.env"), APP_ENV);
}, 180_000);
afterAll(async () => {
  await h?.stop();
  await repo?.cleanup();
});

describe("templates on a test host", () => {
  it("refuses a template naming a missing secret, or one its host does not get, before anything is uploaded", async () => {
    writeFileSync(join(repo.dir, "..", "bad.conf"), 'password = {{ secret "nope" }}\n');
    const r = await nixseal(repo, ["template", "add", "bad.conf", "--host", "tmpl1", "--from-file", "../bad.conf"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/template bad\.conf uses secret nope, which does not exist/);
    expect(JSON.parse(readFileSync(join(repo.dir, "nixseal.json"), "utf8")).templates).toBeUndefined();
    // A repo edited by hand so that the template names a secret the host does not get: deploy refuses before it connects.
    const file = join(repo.dir, "nixseal.json");
    const good = readFileSync(file, "utf8");
    const broken = JSON.parse(good);
    mkdirSync(join(repo.dir, "templates"), { recursive: true });
    writeFileSync(join(repo.dir, "templates", "hand.conf"), 'x = {{ secret "dns-token" }}\n');
    broken.templates = { "hand.conf": { hosts: ["tmpl1"], owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: 1, updatedAt: "2026-01-01T00:00:00.000Z" } };
    broken.secrets["dns-token"].hosts = [];
    writeFileSync(file, JSON.stringify(broken, null, 2));
    const before = (await h.exec("ls /var/lib/nixseal/generations 2>/dev/null | wc -l")).stdout.trim();
    const d = await deploy();
    expect(d.code).toBe(1);
    expect(d.stdout + d.stderr).toMatch(/template hand\.conf is for tmpl1, which does not get secret dns-token/);
    expect((await h.exec("ls /var/lib/nixseal/generations 2>/dev/null | wc -l")).stdout.trim()).toBe(before);
    writeFileSync(file, good);
    await nixseal(repo, ["template", "rm", "hand.conf"]);
  });

  it("renders a Caddyfile-like config and an env file for their services", async () => {
    await nixsealOk(repo, ["template", "add", "Caddyfile", "--host", "tmpl1", "--from-file", "../Caddyfile", "--owner", "caddy", "--group", "caddy", "--mode", "0440", "--restart-unit", "caddy.service"]);
    await nixsealOk(repo, ["template", "add", "app.env", "--host", "tmpl1", "--from-file", "../app.env", "--owner", "app", "--restart-unit", "app.service"]);
    const d = await deploy();
    expect(d.code, d.stdout + d.stderr).toBe(0);
    await h.exec("systemctl start caddy.service app.service");
    expect((await h.exec("stat -c '%U:%G %a' /run/nixseal/current/Caddyfile /run/nixseal/current/app.env")).stdout.trim().split("\n")).toEqual(["caddy:caddy 440", "app:app 400"]); // no --group: app's primary group
    expect((await h.exec("cat /run/keys/Caddyfile")).stdout).toBe(render(CADDYFILE, values));
    expect((await h.exec("cat /run/keys/app.env")).stdout).toBe(render(APP_ENV, values));
    await h.waitFor(async () => (await h.exec("test -s /run/caddy/seen && test -s /run/app/seen", { check: false })).code === 0, 10_000, "both services started");
    expect(await seen("/run/caddy/seen")).toBe(sha(render(CADDYFILE, values)));
    expect(await seen("/run/app/seen")).toBe(sha(values["api-key"]));
  });

  it("rotating one referenced secret re-renders its template and restarts only that service", async () => {
    const caddy = await invocation("caddy.service");
    const app = await invocation("app.service");
    const rotated = { ...values, "api-key": "api-key-rotated-7a41" };
    await nixsealOk(repo, ["secrets", "rotate", "api-key"], { stdin: rotated["api-key"] });
    const d = await nixseal(repo, ["deploy", "tmpl1", "--secrets-only", "--ssh-key", h.operatorKeyPath, "--json"]);
    expect(d.code, d.stderr).toBe(0);
    expect((await h.exec("cat /run/keys/app.env")).stdout).toBe(render(APP_ENV, rotated));
    expect((await h.exec("cat /run/keys/Caddyfile")).stdout).toBe(render(CADDYFILE, values));
    await h.waitFor(async () => (await invocation("app.service")) !== app, 10_000, "app.service restarted");
    await h.waitFor(async () => (await seen("/run/app/seen").catch(() => "")) === sha(rotated["api-key"]), 10_000, "app.service read the new key");
    expect(await invocation("caddy.service"), d.stdout).toBe(caddy);
    values["api-key"] = rotated["api-key"];
  });

  it("a reboot restores the rendered files before their services start, and no value is on the host's disk", async () => {
    await h.reboot();
    expect((await h.exec("cat /run/keys/Caddyfile")).stdout).toBe(render(CADDYFILE, values));
    expect((await h.exec("cat /run/keys/app.env")).stdout).toBe(render(APP_ENV, values));
    expect((await h.exec("stat -c '%U:%G %a' /run/nixseal/current/Caddyfile")).stdout.trim()).toBe("caddy:caddy 440");
    await h.waitFor(async () => (await h.exec("test -s /run/caddy/seen && test -s /run/app/seen", { check: false })).code === 0, 15_000, "both services started");
    expect(await seen("/run/caddy/seen")).toBe(sha(render(CADDYFILE, values)));
    expect(await seen("/run/app/seen")).toBe(sha(values["api-key"]));
    const v = await nixseal(repo, ["verify", "tmpl1", "--no-reboot", "--ssh-key", h.operatorKeyPath]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^ok {4}Caddyfile {2}caddy:caddy 0440 {2}content matches/m);
    for (const value of Object.values(values)) expect(await grepTree(h.upperDir, value)).toEqual([]);
  });
});

// `nixseal template …` in a repo: every placeholder must name a secret each of the
// template's hosts gets, checked when the template changes, when any other change would
// break it, and when a bundle is built.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sshKeygen } from "../core/support.js";
import { runNixseal, snapshotTree, testEnv, type RunResult } from "./harness.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-template-"));
const repo = join(work, "repo");
const env = testEnv(repo);
const run = (argv: string[], stdin?: string): Promise<RunResult> => runNixseal(argv, { cwd: repo, env, stdin });
async function ok(argv: string[], stdin?: string): Promise<RunResult> {
  const r = await run(argv, stdin);
  expect(r.code, r.stderr).toBe(0);
  return r;
}
const json = () => JSON.parse(readFileSync(join(repo, "nixseal.json"), "utf8"));
let n = 0;
async function bundle(host: string): Promise<{ dir: string; manifest: { id: string; templates?: Array<Record<string, unknown>> } }> {
  const dir = join(work, `bundle${++n}`);
  await ok(["bundle", host, "--out", dir]);
  return { dir, manifest: JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) };
}

beforeAll(async () => {
  mkdirSync(repo);
  await ok(["init"]);
  for (const h of ["web1", "web2"]) await ok(["host", "add", h, "--target", "root@127.0.0.1", "--key", sshKeygen(work, h, "ed25519").pub]);
  await ok(["secrets", "add", "dns-token", "--host", "web1,web2"], "t0ken");
  await ok(["secrets", "add", "db-pass", "--host", "web1"], "pa55");
  writeFileSync(join(work, "app.env"), 'DNS={{ secret "dns-token" }}\nDB={{ secret "db-pass" }}\n');
  writeFileSync(join(work, "shared.conf"), 'token {{ secret "dns-token" }}\n');
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("nixseal template", () => {
  it("add checks every placeholder against the template's hosts; a refusal writes nothing", async () => {
    const snap = snapshotTree(repo);
    const notForWeb2 = await run(["template", "add", "app.env", "--host", "web1,web2", "--from-file", "../app.env"]);
    expect(notForWeb2.stderr).toMatch(/template app\.env is for web2, which does not get secret db-pass/);
    expect(notForWeb2.stderr).toMatch(/hint: give it the secret: nixseal secrets set db-pass --add-host web2/);
    writeFileSync(join(work, "typo.env"), 'X={{ secret "db-pas" }}\n');
    expect((await run(["template", "add", "typo.env", "--host", "web1", "--from-file", "../typo.env"])).stderr).toMatch(/template typo\.env uses secret db-pas, which does not exist/);
    writeFileSync(join(work, "broken.env"), "X={{ secret db-pass }}\n");
    expect((await run(["template", "add", "broken.env", "--host", "web1", "--from-file", "../broken.env"])).stderr).toMatch(/templates\/broken\.env:1:3: a placeholder is written/);
    expect((await run(["template", "add", "db-pass", "--host", "web1", "--from-file", "../app.env"])).stderr).toMatch(/db-pass is a secret's name/);
    expect(snapshotTree(repo)).toEqual(snap);

    await ok(["template", "add", "app.env", "--host", "web1", "--from-file", "../app.env", "--owner", "app", "--restart-unit", "app.service"]);
    await ok(["template", "add", "shared.conf", "--host", "web1,web2", "--from-file", "../shared.conf"]);
    expect(readFileSync(join(repo, "templates", "app.env"), "utf8")).toBe(readFileSync(join(work, "app.env"), "utf8"));
    expect(json().templates["app.env"]).toMatchObject({ hosts: ["web1"], owner: "app", mode: "0400", restartUnits: ["app.service"], version: 1 });
    expect(json().templates["app.env"].group).toBeUndefined(); // the owner's primary group on the host
    expect((await ok(["template", "list"])).stdout).toBe("app.env\tv1\t0400 app:\tweb1\tuses dns-token,db-pass\nshared.conf\tv1\t0400 root:root\tweb1,web2\tuses dns-token\n");
  });

  it("refuses any change elsewhere that would break a template", async () => {
    const snap = snapshotTree(repo);
    const rm = await run(["secrets", "rm", "db-pass"]);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toMatch(/template app\.env uses secret db-pass, which does not exist/);
    const set = await run(["secrets", "set", "dns-token", "--rm-host", "web2", "-i", join(repo, "home", ".config", "nixseal", "identity.txt")]);
    expect(set.code).toBe(1);
    expect(set.stderr).toMatch(/template shared\.conf is for web2, which does not get secret dns-token/);
    expect(snapshotTree(repo)).toEqual(snap);
    // Removing a host takes it off the templates too.
    await ok(["host", "add", "web3", "--target", "root@127.0.0.1", "--key", sshKeygen(work, "web3", "ed25519").pub]);
    await ok(["secrets", "set", "dns-token", "--add-host", "web3", "-i", join(repo, "home", ".config", "nixseal", "identity.txt")]);
    await ok(["template", "set", "shared.conf", "--add-host", "web3*"]); // a glob, as for secrets
    expect(json().templates["shared.conf"].hosts).toEqual(["web1", "web2", "web3"]);
    await ok(["host", "rm", "web3"]);
    expect(json().templates["shared.conf"].hosts).toEqual(["web1", "web2"]);
    await ok(["secrets", "rekey", "-i", join(repo, "home", ".config", "nixseal", "identity.txt")]);
  });

  it("each host's bundle carries its templates (text, sha256, the secrets used), and their changes change its id", async () => {
    const a = await bundle("web1");
    expect(a.manifest.templates!.map((t) => [t.name, t.file, t.uses])).toEqual([["app.env", "app.env.tmpl", ["dns-token", "db-pass"]], ["shared.conf", "shared.conf.tmpl", ["dns-token"]]]);
    const text = readFileSync(join(a.dir, "app.env.tmpl"));
    expect(a.manifest.templates![0]!.sha256).toBe(createHash("sha256").update(text).digest("hex"));
    expect(text.toString()).not.toMatch(/t0ken|pa55/);
    expect((await bundle("web2")).manifest.templates!.map((t) => t.name)).toEqual(["shared.conf"]);
    writeFileSync(join(work, "app2.env"), 'DNS={{ secret "dns-token" }}\n');
    await ok(["template", "set", "app.env", "--from-file", "../app2.env"]);
    expect(json().templates["app.env"].version).toBe(2);
    const b = await bundle("web1");
    expect(b.manifest.id).not.toBe(a.manifest.id);
    expect(b.manifest.templates![0]!.uses).toEqual(["dns-token"]);
    // The one check again before anything ships: a template edited by hand to name a secret web2 does not get.
    writeFileSync(join(repo, "templates", "shared.conf"), 'x {{ secret "db-pass" }}\n');
    const r = await run(["bundle", "web2", "--out", join(work, "refused")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/template shared\.conf is for web2, which does not get secret db-pass/);
    writeFileSync(join(repo, "templates", "shared.conf"), readFileSync(join(work, "shared.conf")));
    await ok(["template", "rm", "app.env"]);
    expect(Object.keys(json().templates)).toEqual(["shared.conf"]);
  });
});

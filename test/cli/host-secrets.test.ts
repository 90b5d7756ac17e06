// hosts/<name>/nixseal-secrets.json from the CLI: written by every command that
// changes a host's secrets (only for hosts with a config dir), host sync, the
// neededBy/neededForUsers flags, templates (entries like secrets, one digest with
// them that the bundle's agrees with), secrets rename (also of a name an older rule
// allowed), and deploy's refusal of a stale file, before it touches any host.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appliedDifferences, appliedDigest, appliedOfBundle, appliedSecretsOf, bundleManifestSchema, hostSecretsSchema } from "../../core/index.js";
import { runNixseal, snapshotTree, testEnv } from "./harness.js";

let work: string;
let repo: string;
let env: Record<string, string | undefined>;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "nixseal-host-secrets-"));
  repo = join(work, "repo");
  mkdirSync(repo);
  for (const h of ["web1", "plain1"]) spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, h)]);
  env = testEnv(repo);
  await ok(["init"]);
  for (const h of ["web1", "plain1"]) await ok(["host", "add", h, "--target", "root@127.0.0.1", "--key", readFileSync(join(work, `${h}.pub`), "utf8")]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const run = (argv: string[], stdin?: string) => runNixseal(argv, { cwd: repo, env, stdin });
async function ok(argv: string[], stdin?: string) {
  const r = await run(argv, stdin);
  expect(r.stderr, argv.join(" ")).not.toContain("error");
  expect(r.code, `${argv.join(" ")}: ${r.stderr}`).toBe(0);
  return r;
}
const fileOf = (host: string) => join(repo, "hosts", host, "nixseal-secrets.json");
const read = (host: string) => hostSecretsSchema.parse(JSON.parse(readFileSync(fileOf(host), "utf8")));

describe("the generated file", () => {
  it("host sync creates a host's config dir and file; a host without one gets none", async () => {
    const r = await ok(["host", "sync", "web1"]);
    expect(r.stderr).toContain("wrote hosts/web1/nixseal-secrets.json");
    expect(read("web1")).toMatchObject({ format: "nixseal-host-secrets/v1", host: "web1", secrets: {} });
    expect(existsSync(join(repo, "hosts", "plain1"))).toBe(false);
    expect((await ok(["host", "sync"])).stderr).toContain("up to date");
  });

  it("secrets add / set / rm rewrite it, with neededBy and neededForUsers", async () => {
    await ok(["secrets", "add", "db-password", "--host", "web1,plain1", "--owner", "postgres", "--needed-by", "postgresql.service", "--restart-unit", "postgresql.service"], "pw");
    await ok(["secrets", "add", "root-pw", "--host", "web1", "--needed-for-users"], "$6$x");
    let f = read("web1");
    expect(f.secrets["db-password"]).toEqual({ owner: "postgres", group: null, mode: "0400", path: null, restartUnits: ["postgresql.service"], reloadUnits: [], neededBy: ["postgresql.service"], neededForUsers: false });
    expect(f.secrets["root-pw"]!.neededForUsers).toBe(true);
    await ok(["secrets", "set", "db-password", "--needed-by", "postgresql.service,pgbouncer.socket", "--path", "/var/lib/postgresql/pw"]);
    f = read("web1");
    expect(f.secrets["db-password"]).toMatchObject({ neededBy: ["postgresql.service", "pgbouncer.socket"], path: "/var/lib/postgresql/pw" });
    const digest = f.digest;
    await ok(["secrets", "rotate", "db-password"], "new value"); // a new value: the system need not change
    expect(read("web1").digest).toBe(digest);
    await ok(["secrets", "rm", "root-pw"]);
    expect(Object.keys(read("web1").secrets)).toEqual(["db-password"]);
    expect(existsSync(join(repo, "hosts", "plain1"))).toBe(false);
  });

  it("a secret for users must be root's", async () => {
    const before = snapshotTree(repo);
    const r = await run(["secrets", "add", "pw", "--host", "web1", "--needed-for-users", "--owner", "alice"], "x");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("must be owned by root:root");
    expect(snapshotTree(repo)).toEqual(before);
  });

  it("deploy refuses a stale or missing file before it connects to any host", async () => {
    writeFileSync(join(repo, "hosts", "web1", "configuration.nix"), "{ ... }: { }\n");
    const good = readFileSync(fileOf("web1"), "utf8");
    writeFileSync(fileOf("web1"), good.replace('"postgres"', '"someone"'));
    let r = await run(["deploy", "web1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('host "web1": hosts/web1/nixseal-secrets.json does not match nixseal.json');
    expect(r.stderr).toContain('nixseal host sync web1');
    rmSync(fileOf("web1"));
    r = await run(["deploy", "web1"]);
    expect(r.stderr).toContain("hosts/web1/nixseal-secrets.json is missing");
    await ok(["host", "sync"]);
    expect(readFileSync(fileOf("web1"), "utf8")).toBe(good);
  });
});

describe("templates in the generated file", () => {
  it("template add / set / rm rewrite it: entries like secrets, one digest that the bundle's agrees with, no key without templates", async () => {
    const withoutTemplates = readFileSync(fileOf("web1"), "utf8");
    writeFileSync(join(work, "app.env"), 'DB_PASSWORD={{ secret "db-password" }}\n');
    await ok(["template", "add", "app.env", "--host", "web1,plain1", "--from-file", join(work, "app.env"), "--owner", "postgres", "--path", "/etc/app/env", "--restart-unit", "app.service", "--needed-by", "app.service"]);
    let f = read("web1");
    expect(f.templates).toEqual({ "app.env": { owner: "postgres", group: null, mode: "0400", path: "/etc/app/env", restartUnits: ["app.service"], reloadUnits: [], neededBy: ["app.service"], neededForUsers: false } });
    expect(Object.keys(f.secrets)).not.toContain("app.env");
    expect(f.digest).not.toBe(hostSecretsSchema.parse(JSON.parse(withoutTemplates)).digest);
    expect(existsSync(join(repo, "hosts", "plain1"))).toBe(false);
    // The agent's drift check compares the bundle with this digest: both count the template.
    const out = join(work, "bundle-web1");
    await ok(["bundle", "web1", "--out", out]);
    const manifest = bundleManifestSchema.parse(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")));
    expect(manifest.templates?.map((t) => t.name)).toEqual(["app.env"]);
    expect(appliedDigest(appliedOfBundle(manifest))).toBe(f.digest);
    expect(appliedDifferences(appliedSecretsOf(f), appliedOfBundle(manifest))).toEqual([]);
    rmSync(out, { recursive: true, force: true });

    await ok(["template", "set", "app.env", "--needed-by", "app.service,app.socket", "--mode", "0440"]);
    f = read("web1");
    expect(f.templates!["app.env"]).toMatchObject({ neededBy: ["app.service", "app.socket"], mode: "0440" });
    await ok(["template", "set", "app.env", "--needed-by", ""]);
    expect(read("web1").templates!["app.env"]!.neededBy).toEqual([]);
    expect(JSON.parse((await ok(["template", "list", "--json"])).stdout)[0]).toMatchObject({ name: "app.env", neededBy: [] });
  });

  it("deploy refuses a file whose template entry is stale, before it connects", async () => {
    const good = readFileSync(fileOf("web1"), "utf8");
    const data = JSON.parse(good);
    data.templates["app.env"].owner = "root";
    writeFileSync(fileOf("web1"), JSON.stringify(data, null, 2) + "\n");
    const r = await run(["deploy", "web1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('host "web1": hosts/web1/nixseal-secrets.json does not match nixseal.json');
    await ok(["host", "sync", "web1"]);
    expect(readFileSync(fileOf("web1"), "utf8")).toBe(good);
  });

  it("a file that lists a name both as a secret and as a template is refused", () => {
    const data = JSON.parse(readFileSync(fileOf("web1"), "utf8"));
    data.templates["db-password"] = data.templates["app.env"];
    expect(hostSecretsSchema.safeParse(data).error?.issues[0]?.message).toContain("db-password is also a secret's name");
  });

  it("template rm takes it out: the file is as it was without templates", async () => {
    await ok(["template", "rm", "app.env"]);
    const text = readFileSync(fileOf("web1"), "utf8");
    expect(text).not.toContain('"templates"');
    expect(read("web1").templates).toBeUndefined();
  });
});

describe("names", () => {
  it("refuses + and @ and a name that differs only in case from another", async () => {
    for (const bad of ["a+b", "a@b"]) {
      const r = await run(["secrets", "add", bad, "--host", "web1"], "x");
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("letters, digits and . _ -");
    }
    await ok(["secrets", "add", "Api-Key", "--host", "web1"], "x");
    const r = await run(["secrets", "rename", "Api-Key", "api-key-2"]);
    expect(r.code).toBe(0);
    const clash = await run(["secrets", "rename", "db-password", "API-KEY-2"]);
    expect(clash.stderr).toContain('differs from "API-KEY-2" only in case');
  });

  it("a repo holding a name an older rule allowed names the rename command, which fixes it", async () => {
    const text = readFileSync(join(repo, "nixseal.json"), "utf8");
    const data = JSON.parse(text);
    data.secrets["old+name"] = data.secrets["api-key-2"];
    delete data.secrets["api-key-2"];
    writeFileSync(join(repo, "nixseal.json"), JSON.stringify(data, null, 2));
    const blob = readFileSync(join(repo, "secrets", "api-key-2.age"));
    rmSync(join(repo, "secrets", "api-key-2.age"));
    writeFileSync(join(repo, "secrets", "old+name.age"), blob);
    const r = await run(["secrets", "list"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('secret "old+name" has a name secrets may no longer have');
    expect(r.stderr).toContain("nixseal secrets rename old+name old-name");
    await ok(["secrets", "rename", "old+name", "old-name"]);
    expect(readFileSync(join(repo, "secrets", "old-name.age"))).toEqual(blob);
    expect(existsSync(join(repo, "secrets", "old+name.age"))).toBe(false);
    expect(Object.keys(read("web1").secrets)).toContain("old-name");
    await ok(["secrets", "list"]);
  });
});

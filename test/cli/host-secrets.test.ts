// hosts/<name>/nixseal-secrets.json from the CLI: written by every command that
// changes a host's secrets (only for hosts with a config dir), host sync, the
// neededBy/neededForUsers flags, secrets rename (also of a name an older rule
// allowed), and deploy's refusal of a stale file, before it touches any host.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostSecretsSchema } from "../../core/index.js";
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
    expect(f.secrets["db-password"]).toEqual({ owner: "postgres", group: "root", mode: "0400", path: null, restartUnits: ["postgresql.service"], reloadUnits: [], neededBy: ["postgresql.service"], neededForUsers: false });
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

import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REPO_FORMAT, type Repo } from "../../core/index.js";
import {
  findRepo,
  hostConfigDir,
  hostsOf,
  loadRepo,
  lockFile,
  recipientSetId,
  saveRepo,
  secretFile,
  secretsForHost,
  withRepoLock,
} from "../../cli/repo/index.js";

const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFt6Z2vj7pIr7d7W3kVn2wY4Ls8Rr8k2i7q7n5t5m3xZ web1";
function sampleRepo(): Repo {
  return {
    format: REPO_FORMAT,
    admins: [{ name: "alice", recipient: "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq" }],
    hosts: {
      web2: { target: "root@127.0.1.2", hostKey },
      web1: { target: "root@127.0.1.1:2222", hostKey, configDir: "machines/web1" },
    },
    secrets: {
      db: { hosts: ["web1"], owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: 1, updatedAt: "2026-01-01T00:00:00.000Z" },
      api: { hosts: ["web1", "web2"], owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: 2, updatedAt: "2026-01-01T00:00:00.000Z" },
    },
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "nixseal-repo-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("repo API", () => {
  it("saves sorted, loads back, and is found from a subdirectory", async () => {
    await saveRepo(dir, sampleRepo());
    const text = await readFile(join(dir, "nixseal.json"), "utf8");
    expect(text.indexOf('"web1"')).toBeLessThan(text.indexOf('"web2"'));
    expect(text.indexOf('"api"')).toBeLessThan(text.indexOf('"db"'));
    await mkdir(join(dir, "a", "b"), { recursive: true });
    expect(await findRepo(join(dir, "a", "b"))).toBe(dir);
    const { repo } = await loadRepo(dir);
    expect(hostsOf(repo)).toEqual(["web1", "web2"]);
    expect(secretsForHost(repo, "web2")).toEqual(["api"]);
    expect(secretsForHost(repo, "web1")).toEqual(["api", "db"]);
    expect(secretFile(dir, "db")).toBe(join(dir, "secrets", "db.age"));
    expect(hostConfigDir(dir, repo, "web1")).toBe(join(dir, "machines/web1"));
    expect(hostConfigDir(dir, repo, "web2")).toBe(join(dir, "hosts/web2"));
  });

  it("names the file and JSON path of a hand-broken nixseal.json", async () => {
    await writeFile(join(dir, "nixseal.json"), JSON.stringify({ ...sampleRepo(), hosts: { web1: { target: "nope", hostKey } } }));
    await expect(loadRepo(dir)).rejects.toThrow(/nixseal\.json: at \$\.hosts\.web1\.target: user@address/);
    await writeFile(join(dir, "nixseal.json"), "{\n  \"format\": nope\n}\n");
    await expect(loadRepo(dir)).rejects.toThrow(/nixseal\.json:2:13: not valid JSON: expected a value/);
  });

  it("says when there is no repo", async () => {
    await expect(findRepo(dir)).rejects.toMatchObject({ code: "NIXSEAL_ERR_NO_REPO" });
  });

  it("recipient set ids ignore order and duplicates", () => {
    expect(recipientSetId(["b", "a", "a"])).toBe(recipientSetId(["a", "b"]));
    expect(recipientSetId(["a"])).not.toBe(recipientSetId(["a", "b"]));
  });
});

describe("repo lock", () => {
  it("refuses a second holder in the same process and frees the lock afterwards", async () => {
    let inner: unknown;
    await withRepoLock(dir, async () => {
      // The holder is this (live) process: a concurrent writer must be refused.
      inner = await withRepoLock(dir, async () => "ran").catch((e: unknown) => e);
    });
    expect(inner).toMatchObject({ code: "NIXSEAL_ERR_REPO_LOCKED" });
    expect(String((inner as Error).message)).toContain(`pid ${process.pid}`);
    expect(await withRepoLock(dir, async () => "again")).toBe("again");
  });

  it("refuses while another live process holds it, takes over after it died", async () => {
    const child = spawn(process.execPath, ["-e", "setInterval(()=>{},1000)"], { stdio: "ignore" });
    await new Promise((r) => child.once("spawn", r));
    await writeFile(lockFile(dir), JSON.stringify({ pid: child.pid, host: hostname(), since: "x" }));
    const err = await withRepoLock(dir, async () => 1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NIXSEAL_ERR_REPO_LOCKED" });
    expect((err as { hints: string[] }).hints.join()).toContain(lockFile(dir));
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    expect(await withRepoLock(dir, async () => 2)).toBe(2);
    await expect(readFile(lockFile(dir))).rejects.toThrow(/ENOENT/);
  });

  it("never takes over a lock held from another machine", async () => {
    await writeFile(lockFile(dir), JSON.stringify({ pid: 1, host: "elsewhere.example", since: "x" }));
    await expect(withRepoLock(dir, async () => 1)).rejects.toThrow(/pid 1 on elsewhere\.example/);
  });
});

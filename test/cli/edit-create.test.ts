// `secrets edit` of a name that is not in the repo creates it from what the editor saves,
// as `agenix -e` does; without hosts it says how; an empty save creates nothing; the
// metadata options are refused for an existing secret. The real age binary opens the blob.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runNixseal, snapshotTree, testEnv } from "./harness.js";

let work: string;
let repo: string;
let env: Record<string, string | undefined>;
const value = `created-in-editor-${randomBytes(8).toString("hex")}`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "nixseal-edit-create-"));
  repo = join(work, "repo");
  mkdirSync(repo);
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "hk")]);
  writeFileSync(join(work, "value.txt"), value);
  // a person typing the value and saving: the editor copies it in from a file (not argv, not env)
  writeFileSync(join(work, "type.sh"), `#!/bin/sh\ncat ${JSON.stringify(join(work, "value.txt"))} > "$1"\n`, { mode: 0o755 });
  writeFileSync(join(work, "quit.sh"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const shm = join(work, "shm");
  mkdirSync(shm);
  spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", shm]);
  env = testEnv(repo, { NIXSEAL_EDIT_DIR: shm });
  for (const args of [["init"], ["host", "add", "web1", "--target", "root@127.0.0.1", "--key", readFileSync(join(work, "hk.pub"), "utf8").trim(), "--tag", "web"]]) {
    const r = await runNixseal(args, { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
  }
});
afterAll(() => {
  spawnSync("umount", [join(work, "shm")]);
  rmSync(work, { recursive: true, force: true });
});

const edit = (args: string[], editor: string) => runNixseal(["secrets", "edit", ...args], { cwd: repo, env: { ...env, EDITOR: join(work, editor) } });

describe("secrets edit of a new name", () => {
  it("without --host: says how to create it, and changes nothing", async () => {
    const before = snapshotTree(repo);
    const r = await edit(["smtp"], "type.sh");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no secret named "smtp"; to create it here, name its hosts');
    expect(r.stderr).toContain("hint: nixseal secrets edit smtp --host HOST");
    expect(snapshotTree(repo)).toEqual(before);
  });

  it("an empty save creates nothing", async () => {
    const before = snapshotTree(repo);
    const r = await edit(["smtp", "--host", "web1"], "quit.sh");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("smtp not created: nothing was saved");
    expect(snapshotTree(repo)).toEqual(before);
  });

  it("with --host (a tag too) and metadata: created from what is saved, for those hosts", async () => {
    const r = await edit(["smtp", "--host", "@web", "--owner", "postfix", "--mode", "0440"], "type.sh");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("added smtp (version 1) for web1");
    const meta = JSON.parse(readFileSync(join(repo, "nixseal.json"), "utf8")).secrets.smtp;
    expect(meta).toMatchObject({ hosts: ["web1"], owner: "postfix", mode: "0440", version: 1 });
    const opened = spawnSync("age", ["-d", "-i", join(work, "hk"), join(repo, "secrets", "smtp.age")], { encoding: "utf8" });
    expect(opened.stdout).toBe(value);
    expect(existsSync(join(work, "shm")) && spawnSync("ls", ["-A", join(work, "shm")], { encoding: "utf8" }).stdout).toBe("");
  });

  it("metadata options for an existing secret are refused with the command that does it", async () => {
    const before = snapshotTree(repo);
    const r = await edit(["smtp", "--owner", "root"], "type.sh");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--owner goes only with a new secret; "smtp" exists');
    expect(r.stderr).toContain("nixseal secrets set smtp --owner");
    expect(snapshotTree(repo)).toEqual(before);
  });
});

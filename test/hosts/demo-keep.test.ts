// `npm run demo -- --keep`: the whole demo, then the test host stays up after the demo's
// process has ended; the commands it prints reach the host (ssh) and remove it and the
// repo, which this test runs, checking each.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "./harness/paths.js";
import { listRecords } from "./harness/index.js";

const ROOT = projectRoot();

function runDemo(): Promise<{ code: number | null; out: string; pid: number }> {
  return new Promise((resolve, reject) => {
    // as a person runs it: not part of this test run (its own run id, from its own pid)
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NIXSEAL_TESTHOST_RUN;
    const child = spawn(process.execPath, [join(ROOT, "dist/scripts/demo.js"), "--keep"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, pid: child.pid! }));
  });
}

describe("npm run demo -- --keep", () => {
  it("leaves the host running after the demo ends, and prints how to reach and remove it", async () => {
    const r = await runDemo();
    expect(r.code, r.out).toBe(0);
    const lines = r.out.split("\n").map((l) => l.trim());
    expect(r.out).toContain("Kept (--keep)");
    expect(r.out).not.toContain("Tear down");
    const ssh = lines.find((l) => l.startsWith("ssh "));
    const reap = lines.find((l) => l.startsWith("node dist/test/hosts/harness/reap.js"));
    const rmRepo = lines.find((l) => l.startsWith("rm -rf "));
    expect(ssh && reap && rmRepo, r.out).toBeTruthy();
    const base = rmRepo!.slice("rm -rf ".length).replace(/^'|'$/g, "");
    const kept = listRecords().filter((rec) => rec.name === "demo" && rec.owner.pid === r.pid);
    try {
      expect(kept).toHaveLength(1);
      const pid1 = kept[0]!.pid1?.pid; // a record of a running host names its pid 1
      expect(pid1).toBeTypeOf("number");
      expect(existsSync(`/proc/${pid1}`)).toBe(true);
      // the printed ssh command, as printed, after the demo's process has ended
      const hostname = spawnSync("sh", ["-c", `${ssh} hostname`], { encoding: "utf8", timeout: 30_000 });
      expect(hostname.stdout.trim(), hostname.stderr).toBe("demo");
      expect(existsSync(join(base, "infra", "nixseal.json"))).toBe(true);

      // and the printed removal, as printed
      for (const cmd of [reap!, rmRepo!]) {
        const done = spawnSync("sh", ["-c", cmd], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
        expect(done.status, `${cmd}: ${done.stderr}`).toBe(0);
      }
      expect(listRecords().filter((rec) => rec.id === kept[0]!.id)).toEqual([]);
      expect(existsSync(`/proc/${pid1}`)).toBe(false);
      expect(existsSync(base)).toBe(false);
    } finally {
      // whatever failed above, nothing stays
      spawnSync(process.execPath, [join(ROOT, "dist/test/hosts/harness/reap.js")], { cwd: ROOT });
      if (base) spawnSync("rm", ["-rf", base]);
    }
  }, 400_000);
});

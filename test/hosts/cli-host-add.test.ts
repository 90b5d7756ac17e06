// On a real test host: `nixseal host add --scan` reads the
// key the machine's own sshd offers (real systemd, real sshd on 127.0.1.N),
// and a secret added for it opens with that machine's host key (age inside the
// machine when it has it, else the real age binary outside with the key read
// from the machine's disk) and with no other host's.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import { runNixseal, testEnv } from "../cli/harness.js";

let h: TestHost;
let work: string;

beforeAll(async () => {
  h = await bootHost("cliscan");
  work = mkdtempSync(join(tmpdir(), "nixseal-cli-host-"));
});
afterAll(async () => {
  await h?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("host add --scan against a test host", () => {
  it("pins the machine's own ssh-ed25519 key, and only that machine opens its secret", async () => {
    const env = testEnv(work);
    const run = (argv: string[], stdin?: string) => runNixseal(argv, { cwd: work, env, stdin });
    expect((await run(["init"])).code).toBe(0);
    const added = await run(["host", "add", "cliscan", "--target", `root@${h.address}:${h.port}`, "--scan", "--yes"]);
    expect(added.code).toBe(0);
    const repo = JSON.parse(readFileSync(join(work, "nixseal.json"), "utf8"));
    expect(repo.hosts.cliscan.hostKey.split(" ").slice(0, 2)).toEqual(h.hostKeys.ed25519Pub.split(" ").slice(0, 2));

    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "other")]);
    await run(["host", "add", "other", "--target", "root@127.0.0.1", "--key", readFileSync(join(work, "other.pub"), "utf8")]);
    expect((await run(["secrets", "add", "token", "--host", "cliscan"], "machine-value")).code).toBe(0);

    const blob = readFileSync(join(work, "secrets/token.age"));
    const inside = await h.exec("command -v age", { check: false });
    if (inside.code === 0) {
      await h.writeFile("/root/token.age", blob, 0o600);
      expect((await h.exec("age -d -i /etc/ssh/ssh_host_ed25519_key /root/token.age")).stdout).toBe("machine-value");
    } else {
      // The machine's private host key, read from its disk (outside view of the overlay).
      const key = (await h.exec("cat /etc/ssh/ssh_host_ed25519_key")).stdout;
      const keyFile = join(work, "machine_host_key");
      spawnSync("install", ["-m", "600", "/dev/null", keyFile]);
      spawnSync("sh", ["-c", `cat > "${keyFile}"`], { input: key });
      expect(spawnSync("age", ["-d", "-i", keyFile, join(work, "secrets/token.age")], { encoding: "utf8" }).stdout).toBe("machine-value");
    }
    expect(spawnSync("age", ["-d", "-i", join(work, "other"), join(work, "secrets/token.age")]).status).not.toBe(0);
  });
});

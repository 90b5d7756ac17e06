// `nixseal import nixops --scan` on real test hosts: the two machines NixOps recorded no
// host key for ("none" backend) are pinned to the keys their own sshd offers, and each
// imported key opens inside its machine with the machine's own host key (real age).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runNixseal, testEnv } from "../cli/harness.js";
import { writeNixopsState } from "../cli/import/nixops-state.js";
import { sshKeygen } from "../core/support.js";
import { bootHost, type TestHost } from "./harness/index.js";

let hosts: TestHost[] = [];
let work: string;
let stateDir: string;

beforeAll(async () => {
  hosts = await Promise.all(["nxops1", "nxops2"].map((n) => bootHost(n)));
  work = mkdtempSync(join(tmpdir(), "nixseal-import-scan-"));
  stateDir = mkdtempSync("/dev/shm/nixseal-import-scan-");
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  for (const d of [work, stateDir]) if (d) rmSync(d, { recursive: true, force: true });
});

describe("import nixops --scan against test hosts", () => {
  it("pins each machine's own key and its keys open there", async () => {
    const recorded = sshKeygen(work, "web1", "ed25519");
    const state = join(stateDir, "deployments.nixops");
    const machine = (h: TestHost, text: string) => ({
      name: h.name,
      type: "none",
      attrs: { targetHost: h.address, ...(h.port !== 22 ? { targetPort: String(h.port) } : {}), keys: JSON.stringify({ [`${h.name}-token`]: { text, user: "root", group: "root", permissions: "0400" } }) },
    });
    writeNixopsState(state, {
      schema: 3,
      deployments: [{ uuid: "5e0c", name: "lab", machines: [{ name: "web1", type: "container", attrs: { privateIpv4: "10.233.1.2", "container.publicHostKey": recorded.pub } }, machine(hosts[0]!, "value-one"), machine(hosts[1]!, "value-two")] }],
    });
    const env = testEnv(work, { NIXSEAL_EDIT_DIR: stateDir });
    const run = (argv: string[]) => runNixseal(argv, { cwd: work, env });
    expect((await run(["init"])).code).toBe(0);
    const r = await run(["import", "nixops", state, "--scan", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    const repo = JSON.parse(readFileSync(join(work, "nixseal.json"), "utf8"));
    expect(repo.hosts.web1.hostKey).toBe(recorded.pub);
    for (const [i, h] of hosts.entries()) {
      expect(repo.hosts[h.name].hostKey.split(" ").slice(0, 2)).toEqual(h.hostKeys.ed25519Pub.split(" ").slice(0, 2));
      expect(r.stderr).toContain(`offers ssh-ed25519 key`);
      await h.writeFile("/root/token.age", readFileSync(join(work, "secrets", `${h.name}-token.age`)), 0o600);
      expect((await h.exec("age -d -i /etc/ssh/ssh_host_ed25519_key /root/token.age")).stdout).toBe(i === 0 ? "value-one" : "value-two");
    }
  });
});

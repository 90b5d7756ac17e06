// How a multi-host deploy shows itself: the live listr2 view on a TTY (a real pty from
// script(1)), plain lines when piped, a JSON summary with --json; exit 1 when any host
// failed, and a failed host does not stop the others.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import { addHost, addSecret, hostFile, NIXSEAL_BIN, newRepo, nixseal, prepareHost, STANDIN, standinRuns, summary, writeConfig, type TestRepo } from "./fixtures/deploy-env.js";

describe("deploy progress: live view, plain lines, JSON", () => {
  let repo: TestRepo;
  let hosts: TestHost[] = [];

  beforeAll(async () => {
    hosts = await Promise.all([bootHost("view1"), bootHost("view2")]);
    await Promise.all(hosts.map((h) => h.exec(`install -m 0755 ${STANDIN} /usr/local/sbin/nixos-rebuild`)));
    await hosts[1]!.exec("touch /etc/nixos-rebuild-standin.fail");
    repo = await newRepo();
    for (const h of hosts) {
      await addHost(repo, h);
      await writeConfig(repo, h.name, "view");
    }
  });
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await repo?.cleanup();
  });

  it("on a TTY: a live line per host, ✔ for the good one, ✖ with the reason for the failed one", async () => {
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      // script(1) gives the CLI a real pty; a pty starts 0 columns wide, so size it first
      const c = spawn("script", ["-qec", `stty cols 160 rows 40; ${process.execPath} ${NIXSEAL_BIN} deploy --config-only`, "/dev/null"], {
        cwd: repo.dir,
        env: { ...repo.env, TERM: "xterm-256color" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let o = "";
      c.stdout.on("data", (d: Buffer) => (o += d.toString()));
      c.on("error", reject);
      c.on("close", (code) => resolve({ code, out: o }));
    });
    const plain = out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
    expect(code).toBe(1);
    expect(plain).toMatch(/view1: upload config and bundle/); // live step titles
    // configuration.nix and the generated nixseal-secrets.json
    expect(plain).toMatch(/✔ view1: deployed, config 2 files, "nixos-rebuild switch" ok/);
    expect(plain).toMatch(/✖ view2: FAILED: host "view2": rebuild failed/);
    expect(plain).toMatch(/deploy: 1 of 2 host\(s\) ok/);
  });

  it("piped: plain 'nixseal: HOST: step' lines on stderr, nothing on stdout", async () => {
    const r = await nixseal(repo, ["deploy", "--config-only"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).not.toMatch(/\x1b\[/);
    for (const h of ["view1", "view2"]) {
      expect(r.stderr).toMatch(new RegExp(`^nixseal: ${h}: connect \\(pinned host key\\)$`, "m"));
      expect(r.stderr).toMatch(new RegExp(`^nixseal: ${h}: rebuild$`, "m"));
    }
    expect(r.stderr).toMatch(/^nixseal: view2: put back the previous \/etc\/nixos$/m);
    expect(r.stderr).toMatch(/^nixseal: error: view2: FAILED: host "view2": rebuild failed[\s\S]*?\[config restored, secrets untouched/m);
  });

  it("--json: one summary on stdout with every host, and no progress", async () => {
    const r = await nixseal(repo, ["deploy", "--config-only", "--json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    const s = summary(r);
    expect(s.ok).toBe(false);
    expect(s.hosts.map((h) => [h.host, h.ok, h.outcome])).toEqual([
      ["view1", true, "deployed"],
      ["view2", false, "rolled-back"],
    ]);
  });

  it("a host with no hosts/NAME/ dir (a plain systemd host) gets its secrets only, with a warning", async () => {
    const plainHost = await bootHost("view3");
    hosts.push(plainHost);
    await prepareHost(plainHost, ["svc"]);
    await addHost(repo, plainHost);
    await addSecret(repo, "plain-token", ["view3"], `plain-${Date.now()}-value`, "svc");
    const r = await nixseal(repo, ["deploy", "view3"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: host "view3" has no config dir \(hosts\/view3\/\): deploying its secrets only/);
    expect(r.stderr).not.toMatch(/view3: rebuild/);
    expect(hostFile(plainHost, "/etc/nixos/configuration.nix")).toBeUndefined();
    expect(standinRuns(plainHost)).toEqual([]);
    expect((await plainHost.exec("stat -L -c '%U %a' /run/keys/plain-token")).stdout.trim()).toBe("svc 400");
    // --config-only has nothing to ship there: a clear error
    const c = await nixseal(repo, ["deploy", "view3", "--config-only"]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/config dir .*hosts\/view3 does not exist/);
    expect(c.stderr).toMatch(/hint: .*--secrets-only/);
  });

  it("an unreachable host: status and deploy say so, exit 1, the other hosts are unaffected", async () => {
    await nixseal(repo, ["host", "add", "ghost", "--target", "root@127.0.0.1:1", "--key", hosts[0]!.hostKeys.ed25519Pub.trim(), "--ssh-key", hosts[0]!.operatorKeyPath]);
    const st = await nixseal(repo, ["status", "ghost", "--json"]);
    expect(st.code).toBe(1);
    const sh = summary(st).hosts[0]!;
    expect(sh).toMatchObject({ host: "ghost", ok: false, outcome: "unreachable" });
    expect(sh.error?.code).toBe("NIXSEAL_ERR_DEPLOY_CONNECT");
    expect(sh.error?.message).toMatch(/cannot connect to root@127\.0\.0\.1:1/);
    const d = await nixseal(repo, ["deploy", "ghost", "view1", "--config-only", "--json"]);
    expect(d.code).toBe(1);
    const byHost = new Map(summary(d).hosts.map((x) => [x.host, x]));
    expect(byHost.get("ghost")).toMatchObject({ ok: false, restored: { config: "untouched", secrets: "untouched" } });
    expect(byHost.get("view1")).toMatchObject({ ok: true, outcome: "deployed" });
  });
});

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS } from "../../host-agent/config/defaults.js";
import { existsSync } from "node:fs";
import { installUnits, kernelAtLeast, loadUnitsSpec, renderUnits, systemdWord } from "../../host-agent/systemd/install-units.js";

const dir = mkdtempSync(join(tmpdir(), "nixseal-units-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const spec = loadUnitsSpec();
const opts = { agent: "/usr/local/bin/nixseal-agent", config: "/etc/nixseal/agent.json" };

/** The "Overall exposure level" systemd-analyze prints for a unit file. */
function exposure(unitFile: string): number {
  const r = spawnSync("systemd-analyze", ["security", "--offline=true", "--no-pager", unitFile], { encoding: "utf8" });
  const m = /Overall exposure level for \S+: ([0-9.]+)/.exec(r.stdout);
  if (!m) throw new Error(`systemd-analyze gave no score: ${r.stderr}`);
  return Number(m[1]);
}

describe("systemd units from units.json", () => {
  it("agrees with the agent's default layout", () => {
    expect(spec.paths).toMatchObject({ stateDir: CONFIG_DEFAULTS.stateDir, runDir: CONFIG_DEFAULTS.runDir, keysDir: CONFIG_DEFAULTS.keysDir, socket: CONFIG_DEFAULTS.socket });
    expect(Object.keys(spec.units).sort()).toEqual(["nixseal-agent.service", "nixseal-agent.socket", "nixseal-restore.service", "nixseal-secrets.target", "run-nixseal.mount"]);
    expect(spec.units["run-nixseal.mount"]!.Mount!.Where).toBe(CONFIG_DEFAULTS.runDir);
    expect(spec.units["nixseal-agent.socket"]!.Socket!.ListenStream).toBe(CONFIG_DEFAULTS.socket);
  });

  it("renders every placeholder and picks tmpfs+noswap on kernels >= 6.4, ramfs before", () => {
    const now = renderUnits(spec, { ...opts, kernel: "6.18.4-1" });
    for (const text of Object.values(now)) expect(text).not.toMatch(/@[A-Za-z]+@/);
    expect(now["run-nixseal.mount"]).toMatch(/^Type=tmpfs$/m);
    expect(now["run-nixseal.mount"]).toMatch(/^Options=.*\bnoswap\b/m);
    const old = renderUnits(spec, { ...opts, kernel: "6.1.0-18-amd64" });
    expect(old["run-nixseal.mount"]).toMatch(/^Type=ramfs$/m);
    expect(old["run-nixseal.mount"]).not.toContain("noswap");
    expect(now["nixseal-restore.service"]).toContain("ExecStart=/usr/local/bin/nixseal-agent restore --config /etc/nixseal/agent.json");
    expect(kernelAtLeast("6.4", "6.4") && !kernelAtLeast("5.15.0", "6.4") && kernelAtLeast("7.0", "6.4")).toBe(true);
    const extra = renderUnits(spec, { ...opts, readWritePaths: ["/etc/app"] });
    expect(extra["nixseal-agent.service"]).toMatch(/^ReadWritePaths=\/etc\/app$/m);
    expect(now["nixseal-agent.service"]).not.toContain("@readWritePaths@");
  });

  it("socket-activates the API: a root-only socket that starts the service, which has no [Install] of its own", () => {
    const u = renderUnits(spec, opts);
    expect(u["nixseal-agent.socket"]).toMatch(/^ListenStream=\/run\/nixseal-agent\/agent.sock$/m);
    expect(u["nixseal-agent.socket"]).toMatch(/^SocketMode=0600$/m);
    expect(u["nixseal-agent.socket"]).toMatch(/^DirectoryMode=0700$/m);
    expect(u["nixseal-agent.socket"]).toMatch(/^SocketUser=root$/m);
    expect(u["nixseal-agent.socket"]).toMatch(/^WantedBy=sockets.target$/m);
    expect(u["nixseal-agent.service"]).toMatch(/^Requires=nixseal-agent.socket$/m);
    expect(u["nixseal-agent.service"]).not.toMatch(/^\[Install\]$/m);
    // a RuntimeDirectory= would delete the socket's directory each time the agent exits
    expect(u["nixseal-agent.service"]).not.toMatch(/^RuntimeDirectory=/m);
    expect(u["nixseal-agent.service"]).not.toMatch(/^Restart=/m);
  });

  it("orders the restore before nixseal-secrets.target and wants it from there", () => {
    const u = renderUnits(spec, opts);
    expect(u["nixseal-restore.service"]).toMatch(/^Before=nixseal-secrets.target$/m);
    expect(u["nixseal-restore.service"]).toMatch(/^Requires=run-nixseal.mount$/m);
    expect(u["nixseal-secrets.target"]).toMatch(/^Wants=nixseal-restore.service$/m);
    expect(u["nixseal-secrets.target"]).toMatch(/^After=nixseal-restore.service$/m);
  });

  it("scores <= 2.0 exposure in systemd-analyze security (offline) and writes the /run/keys tmpfiles rule", async () => {
    const files = await installUnits({ ...opts, unitDir: join(dir, "units"), tmpfilesDir: join(dir, "tmpfiles"), systemctl: false });
    const scores: Record<string, number> = {};
    for (const name of ["nixseal-restore.service", "nixseal-agent.service"]) scores[name] = exposure(join(dir, "units", name));
    // the score goes to the report (docs/agent.md quotes it)
    process.stderr.write(`systemd-analyze security --offline=true: ${JSON.stringify(scores)}\n`);
    for (const s of Object.values(scores)) expect(s).toBeLessThanOrEqual(2.0);
    expect(files).toContain(join(dir, "tmpfiles", "nixseal.conf"));
    // a readWritePaths entry that does not exist would keep the units from starting
    await expect(installUnits({ ...opts, readWritePaths: [join(dir, "no-such-dir")], unitDir: join(dir, "u2"), tmpfilesDir: join(dir, "t2"), systemctl: false })).rejects.toMatchObject({
      code: "NIXSEAL_ERR_AGENT_INSTALL",
      hints: [expect.stringContaining("mkdir -p")],
    });
    expect(readFileSync(join(dir, "tmpfiles", "nixseal.conf"), "utf8")).toContain("L /run/keys - - - - /run/nixseal/current");
  });

  it("pull units only when asked for: a timer, or --follow's service, hardened like the agent but on the network, arguments quoted for systemd", async () => {
    const plain = renderUnits(spec, opts);
    for (const n of Object.keys(spec.pull.units)) expect(Object.keys(plain)).not.toContain(n);
    const args = ["--server", "https://secrets.example.org/a%20b/", "--trust-key", "/etc/nixseal/op $1.pub"];
    const timer = renderUnits(spec, { ...opts, pull: { follow: false, args } });
    expect(Object.keys(timer).filter((n) => n in spec.pull.units).sort()).toEqual(["nixseal-pull.service", "nixseal-pull.timer"]);
    expect(timer["nixseal-pull.service"]).toContain('ExecStart=/usr/local/bin/nixseal-agent pull --config /etc/nixseal/agent.json "--server" "https://secrets.example.org/a%%20b/" "--trust-key" "/etc/nixseal/op $$1.pub"');
    expect(timer["nixseal-pull.timer"]).toMatch(/^OnUnitActiveSec=10min$/m);
    expect(timer["nixseal-pull.timer"]).toMatch(/^WantedBy=timers.target$/m);
    const follow = renderUnits(spec, { ...opts, pull: { follow: true, args: ["--server", "http://127.0.0.1:1/", "--trust-server"] } });
    expect(Object.keys(follow).filter((n) => n in spec.pull.units)).toEqual(["nixseal-follow.service"]);
    const f = follow["nixseal-follow.service"]!;
    expect(f).toContain('ExecStart=/usr/local/bin/nixseal-agent pull --follow --config /etc/nixseal/agent.json "--server" "http://127.0.0.1:1/" "--trust-server"');
    expect(f).toMatch(/^Restart=always$/m);
    expect(f).toMatch(/^PrivateNetwork=no$/m);
    expect(f).toMatch(/^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$/m);
    expect(f).not.toMatch(/^IPAddressDeny=any$/m);
    // everything else of the agent's sandbox is there
    for (const line of ["ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=CAP_CHOWN CAP_FOWNER", "SystemCallFilter=@system-service"]) expect(f).toContain(`\n${line}\n`);
    expect(systemdWord('a"b\\c')).toBe('"a\\"b\\\\c"');
    // systemd reads them without a complaint, and they stay well sandboxed
    const unitDir = join(dir, "pull-units");
    await installUnits({ ...opts, unitDir, tmpfilesDir: join(dir, "pull-tmpfiles"), systemctl: false, pull: { follow: true, args: ["--server", "http://127.0.0.1:1/", "--trust-server"] } });
    expect(exposure(join(unitDir, "nixseal-follow.service"))).toBeLessThanOrEqual(3.0);
    const v = spawnSync("systemd-analyze", ["verify", "--man=no", join(unitDir, "nixseal-follow.service")], { encoding: "utf8", env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitDir}:` } });
    expect(v.stderr.split("\n").filter((l) => /nixseal-follow/.test(l) && !/Command .* is not executable/.test(l))).toEqual([]);
    // installed again as a timer: the follower's unit goes
    await installUnits({ ...opts, unitDir, tmpfilesDir: join(dir, "pull-tmpfiles"), systemctl: false, pull: { follow: false, args: ["--server", "http://127.0.0.1:1/", "--trust-server"] } });
    expect(existsSync(join(unitDir, "nixseal-follow.service"))).toBe(false);
    expect(existsSync(join(unitDir, "nixseal-pull.timer"))).toBe(true);
  });
});

// The NixOS module's own units booted by real systemd: test/nix/configs/testhost.nix
// is evaluated (nixos-eval) with the generated file of a repo made by the real CLI,
// and the unit texts are installed on a Debian test host with the store paths mapped
// onto the installed agent (/usr/local/bin/nixseal-agent) and the repository's
// nix/wait-key.sh: the stand-ins for the Nix store there. NixOS' /run/keys ramfs
// (mounted before systemd on NixOS) is a mount unit here, also named as a stand-in.
// Proven on each of 11 boots (a first one, then 5 clean reboots and 5 power cuts):
// keys are in place before a service, a socket and a path consumer start; a file
// rendered from a template has its key unit too, and the service that reads it through
// EnvironmentFile= starts after it with the value; a secret (and a template)
// the system declares but the host never got fails its key unit within the bound,
// its consumer does not start, boot reaches multi-user.target and the other secrets
// are in place; the restore runs before sysinit.target without local-fs.target.
// On the way: the agent refuses, on the host, a bundle the system was not built for.
import { createHash, randomBytes } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatHostSecrets, hostSecretsSchema, makeHostSecrets } from "../../core/index.js";
import { evaluate, removeEvalStore, secret, template, writeUnitDir, type Evaluated } from "../nix/module-eval.js";
import { bootHost, type TestHost } from "./harness/index.js";
import { addHost, grepTree, newRepo, nixsealOk, type TestRepo } from "./fixtures/deploy-env.js";
import { addAccounts } from "./agent-support.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const value = (label: string) => `${label}-${randomBytes(16).toString("hex")}`;
const BOUND_S = 3; // testhost.nix's keyTimeout

const present = {
  "svc-key": { value: value("svc"), flags: ["--owner", "nxs-mod", "--group", "nxs-mod", "--mode", "0440", "--needed-by", "consumer-svc.service", "--path", "/var/lib/consumer/svc.key"], stat: "nxs-mod:nxs-mod:440" },
  "sock-key": { value: value("sock"), flags: ["--needed-by", "consumer.socket"], stat: "root:root:400" },
  "path-key": { value: value("path"), flags: ["--needed-by", "consumer-watch.path"], stat: "root:root:400" },
  "user-pw": { value: `$6$${randomBytes(8).toString("hex")}`, flags: ["--needed-for-users"], stat: "root:root:400" },
} as const;
const consumers = { "svc-key": "consumer-svc.service", "sock-key": "consumer.socket", "path-key": "consumer-watch.path" } as const;
const markers = { "svc-key": "consumer-svc", "sock-key": "consumer-socket", "path-key": "consumer-path" } as const;
/** A template that uses one of the secrets, read by consumer-env.service (testhost.nix). */
const TEMPLATE = { name: "app.env", text: 'TOKEN={{ secret "sock-key" }}\n', consumer: "consumer-env.service" } as const;

/** The module's units for the host: ours and the configuration's consumers, nothing of the stub NixOS. */
function hostUnits(e: Evaluated): Evaluated["units"] {
  const ours = (n: string) => n.startsWith("nixseal") || n === "run-nixseal.mount" || n.endsWith("-key.service") || n === "keys.target" || n.startsWith("consumer") || n === "needs-missing.service";
  return Object.fromEntries(Object.entries(e.units).filter(([n]) => ours(n)));
}

/** Store paths onto the host's installed agent and the repository's waiter; NixOS-only lines out. */
function onTestHost(e: Evaluated): (text: string) => string {
  return (text) => {
    const t = text
      .replaceAll(`${e.packagePath}/bin/nixseal-agent`, "/usr/local/bin/nixseal-agent")
      .replaceAll(`${e.packagePath}/libexec/nixseal/wait-key`, "/opt/nixseal/nix/wait-key.sh")
      .replace(/^Environment="PATH=.*"$/gm, 'Environment="PATH=/usr/local/bin:/usr/bin:/bin"')
      .replace(/^Environment=.*\/nix\/store\/.*\n/gm, "")
      .replace(/^X-[A-Za-z-]+=.*\n/gm, "");
    if (t.includes("/nix/store/")) throw new Error(`a store path is left in a unit:\n${t}`);
    return t;
  };
}

const RUN_KEYS_STANDIN = `[Unit]
Description=stand-in for NixOS' /run/keys ramfs (boot.specialFileSystems; NixOS mounts it before systemd starts)
DefaultDependencies=no
Before=nixseal-restore.service local-fs.target

[Mount]
What=ramfs
Where=/run/keys
Type=ramfs
Options=nosuid,nodev,mode=750

[Install]
WantedBy=sysinit.target
`;

describe("the NixOS module's units on a real systemd host", () => {
  let h: TestHost;
  let repo: TestRepo | undefined;
  let work: string;
  let e: Evaluated;
  const boots: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "nixseal-nixos-units-"));
    h = await bootHost("nixosunits");
    await addAccounts(h, ["nxs-mod"]);
    repo = await newRepo();
    await addHost(repo, h);
    for (const [name, s] of Object.entries(present)) await nixsealOk(repo, ["secrets", "add", name, "--host", h.name, ...s.flags], { stdin: s.value });
    writeFileSync(join(work, TEMPLATE.name), TEMPLATE.text);
    await nixsealOk(repo, ["template", "add", TEMPLATE.name, "--host", h.name, "--from-file", join(work, TEMPLATE.name), "--needed-by", TEMPLATE.consumer, "--restart-unit", TEMPLATE.consumer]);
    await nixsealOk(repo, ["host", "sync", h.name]);
    const bundle = join(work, "bundle");
    await nixsealOk(repo, ["bundle", h.name, "--out", bundle]);

    // The system is built for one more secret than the host gets (declared, never deployed).
    const generated = hostSecretsSchema.parse(JSON.parse(readFileSync(join(repo.dir, "hosts", h.name, "nixseal-secrets.json"), "utf8")));
    expect(Object.keys(generated.templates ?? {})).toEqual([TEMPLATE.name]);
    const system = makeHostSecrets(h.name, { ...generated.secrets, "missing-key": secret({ neededBy: ["needs-missing.service"] }) }, { ...generated.templates, "missing.conf": template() });
    const systemFile = join(work, "nixseal-secrets.json");
    writeFileSync(systemFile, formatHostSecrets(system));
    e = evaluate("testhost", systemFile);
    expect(e.failedAssertions).toEqual([]);

    const dir = join(work, "units");
    writeUnitDir(dir, hostUnits(e), onTestHost(e));
    const links: string[] = [];
    const walk = async (d: string, rel: string): Promise<void> => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        const st = lstatSync(p);
        if (st.isDirectory()) await walk(p, `${rel}${f}/`);
        else if (st.isSymbolicLink()) links.push(`mkdir -p /etc/systemd/system/${rel} && ln -sfn ${readlinkSync(p)} /etc/systemd/system/${rel}${f}`);
        else await h.writeFile(`/etc/systemd/system/${rel}${f}`, readFileSync(p));
      }
    };
    await walk(dir, "");
    await h.writeFile("/etc/systemd/system/run-keys.mount", RUN_KEYS_STANDIN);
    links.push("mkdir -p /etc/systemd/system/sysinit.target.wants && ln -sfn ../run-keys.mount /etc/systemd/system/sysinit.target.wants/run-keys.mount");
    await h.exec(links.join("\n"));
    await h.writeFile("/etc/nixseal/agent.json", e.etc["nixseal/agent.json"]!.text!);
    // What NixOS' activation script makes before systemd starts (nixsealPaths).
    await h.exec("mkdir -p /var/lib/consumer");
    await h.exec("systemctl daemon-reload && systemctl start run-nixseal.mount run-keys.mount");
    for (const f of readdirSync(bundle)) await h.writeFile(`/root/bundle/${f}`, readFileSync(join(bundle, f)), 0o600);
    // Deployed while the system did not declare missing-key yet...
    await h.exec("nixseal-agent import /root/bundle --config /etc/nixseal/agent.json");
    // ...then the system is rebuilt with it: /etc/nixseal/secrets.json is what it is built for.
    await h.writeFile("/etc/nixseal/secrets.json", formatHostSecrets(system));
  }, 300_000);

  afterAll(async () => {
    await h?.stop();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
    removeEvalStore();
  });

  it("refuses, on the host, to activate a bundle the running system was not built for, and changes nothing", async () => {
    const before = (await h.exec("readlink /var/lib/nixseal/current; readlink /run/nixseal/current")).stdout;
    const r = await h.exec("nixseal-agent import /root/bundle --config /etc/nixseal/agent.json", { check: false });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("the bundle does not match what this system was built for");
    expect(r.stdout + r.stderr).toContain("hint: deploy with the config");
    expect(r.stdout + r.stderr).toContain("missing from the bundle: missing-key, missing.conf");
    expect((await h.exec("readlink /var/lib/nixseal/current; readlink /run/nixseal/current")).stdout).toBe(before);
  });

  /** One boot's checks; returns a line for the log. */
  async function checkBoot(label: string): Promise<string> {
    const show = async (unit: string, props: string[]) => {
      const out = (await h.exec(`systemctl show ${unit} -p ${props.join(",")}`)).stdout;
      return Object.fromEntries(out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    };
    await h.waitFor(async () => (await show("multi-user.target", ["ActiveState"])).ActiveState === "active", 30_000, "multi-user.target");
    await h.waitFor(async () => ["failed"].includes((await show("missing-key-key.service", ["ActiveState"])).ActiveState), 30_000, "the missing key's unit to fail");
    await h.waitFor(async () => ["failed"].includes((await show("missing.conf-key.service", ["ActiveState"])).ActiveState), 30_000, "the missing template's unit to fail");

    // The restore, as real systemd sees it: before sysinit.target, not after local-fs.target.
    const restore = await show("nixseal-restore.service", ["ActiveState", "Result", "After", "Before"]);
    // On a failure, say why: the restore's own journal of this boot.
    const why = restore.ActiveState === "active" ? "" : `${restore.Result}\n${(await h.exec("journalctl -b -u nixseal-restore.service --no-pager -o cat", { check: false })).stdout}`;
    expect(restore.ActiveState, `${label}: ${why}`).toBe("active");
    expect(restore.Before!.split(" "), label).toContain("sysinit.target");
    expect(restore.After!.split(" "), label).not.toContain("local-fs.target");
    expect(restore.After!.split(" "), label).not.toContain("systemd-tmpfiles-setup.service");

    for (const [name, s] of Object.entries(present)) {
      if (name === "user-pw") continue;
      const r = await h.exec(`sha256sum < /run/keys/${name} | cut -c1-64; stat -L -c %U:%G:%a /run/keys/${name}`);
      expect(r.stdout.split("\n").slice(0, 2), `${label} ${name}`).toEqual([sha256(s.value), s.stat]);
    }
    expect((await h.exec("readlink /var/lib/consumer/svc.key")).stdout.trim()).toBe("/run/nixseal/current/svc-key");
    const pw = await h.exec("sha256sum < /run/nixseal/for-users/user-pw | cut -c1-64; stat -c %U:%G:%a /run/nixseal/for-users/user-pw");
    expect(pw.stdout.split("\n").slice(0, 2), `${label} user-pw`).toEqual([sha256(present["user-pw"].value), "root:root:400"]);
    expect((await show("nixseal-restore-for-users.service", ["ActiveState"])).ActiveState, label).toBe("active");

    // Each consumer started after its key unit was active, and found its key.
    for (const [key, unit] of Object.entries(consumers) as [keyof typeof consumers, string][]) {
      const k = await show(`${key}-key.service`, ["ActiveState", "ActiveEnterTimestampMonotonic"]);
      const c = await show(unit, ["ActiveEnterTimestampMonotonic"]);
      expect(k.ActiveState, `${label} ${key}`).toBe("active");
      expect(Number(c.ActiveEnterTimestampMonotonic), `${label} ${unit} after ${key}`).toBeGreaterThanOrEqual(Number(k.ActiveEnterTimestampMonotonic));
      expect(Number(k.ActiveEnterTimestampMonotonic)).toBeGreaterThan(0);
      await h.waitFor(async () => (await h.exec(`cat /run/${markers[key]} 2>/dev/null || true`)).stdout.trim() !== "", 20_000, `${unit} to record`);
      expect((await h.exec(`cat /run/${markers[key]}`)).stdout.trim(), `${label} ${unit}`).toBe("present");
    }

    // The rendered template: in place with its key unit, read by its consumer through EnvironmentFile=.
    const rendered = await h.exec(`sha256sum < /run/keys/${TEMPLATE.name} | cut -c1-64; stat -L -c %U:%G:%a /run/keys/${TEMPLATE.name}`);
    expect(rendered.stdout.split("\n").slice(0, 2), `${label} ${TEMPLATE.name}`).toEqual([sha256(`TOKEN=${present["sock-key"].value}\n`), "root:root:400"]);
    const tk = await show(`${TEMPLATE.name}-key.service`, ["ActiveState", "ActiveEnterTimestampMonotonic"]);
    expect(tk.ActiveState, `${label} ${TEMPLATE.name}-key.service`).toBe("active");
    await h.waitFor(async () => (await show(TEMPLATE.consumer, ["ActiveState"])).ActiveState === "active", 20_000, `${TEMPLATE.consumer} to start`);
    const ce = await show(TEMPLATE.consumer, ["ActiveEnterTimestampMonotonic", "ExecMainStartTimestampMonotonic"]);
    expect(Number(ce.ExecMainStartTimestampMonotonic), `${label} ${TEMPLATE.consumer} after its template`).toBeGreaterThanOrEqual(Number(tk.ActiveEnterTimestampMonotonic));
    expect(Number(tk.ActiveEnterTimestampMonotonic)).toBeGreaterThan(0);
    expect((await h.exec("cat /run/consumer-env")).stdout.trim(), `${label} ${TEMPLATE.consumer} read the value`).toBe(sha256(present["sock-key"].value));

    // The declared secret the host never got: its unit fails within the bound, its consumer does not start.
    const m = await show("missing-key-key.service", ["Result", "ExecMainStartTimestampMonotonic", "InactiveEnterTimestampMonotonic"]);
    const waitedS = (Number(m.InactiveEnterTimestampMonotonic) - Number(m.ExecMainStartTimestampMonotonic)) / 1e6;
    expect(waitedS, label).toBeGreaterThanOrEqual(BOUND_S - 0.5);
    expect(waitedS, label).toBeLessThan(BOUND_S + 5);
    expect(m.Result).toBe("exit-code");
    const journal = (await h.exec("journalctl -b -u missing-key-key.service --no-pager -o cat")).stdout;
    expect(journal, label).toContain(`nixseal: secret "missing-key" is not in place after ${BOUND_S}s (/run/keys/missing-key is missing).`);
    expect(journal).toContain(`nixseal deploy ${h.name}`);
    const tjournal = (await h.exec("journalctl -b -u missing.conf-key.service --no-pager -o cat")).stdout;
    expect(tjournal, label).toContain(`nixseal: template "missing.conf" is not in place after ${BOUND_S}s`);
    expect(tjournal, label).toContain(`nixseal template set missing.conf --rm-host ${h.name}`);
    const n = await show("needs-missing.service", ["ActiveState", "ExecMainStartTimestampMonotonic"]);
    expect(n.ActiveState, label).not.toBe("active");
    expect(n.ExecMainStartTimestampMonotonic, label).toBe("0");
    // The boot restore reported the drift and restored the rest.
    expect((await h.exec("journalctl -b -u nixseal-restore.service --no-pager -o cat")).stdout, label).toContain("missing from the bundle: missing-key, missing.conf");
    const line = `${label}: keys and the rendered template before consumers, missing-key failed after ${waitedS.toFixed(1)}s`;
    boots.push(line);
    return line;
  }

  it("boots with the module's units: keys before a service, a socket and a path consumer, a rendered template before its EnvironmentFile= reader; a missing one fails within the bound", async () => {
    await h.reboot({ allowDegraded: true });
    await checkBoot("boot 1");
  });

  it("10 more boots, 5 clean reboots and 5 power cuts, restore everything every time", async () => {
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 0) await h.reboot({ allowDegraded: true });
      else await h.powerCut({ allowDegraded: true });
      await checkBoot(`${i % 2 === 0 ? "reboot" : "power cut"} ${Math.floor(i / 2) + 1}`);
    }
    expect(boots).toHaveLength(11);
    console.log(boots.join("\n"));
    // Plaintext never on the host's disk (its overlay upper dir).
    for (const s of Object.values(present)) expect(await grepTree(h.upperDir, s.value)).toEqual([]);
  });
});

// `npm run demo`: the whole nixseal story on one local test host, narrated.
// Boots a real systemd machine (namespaces, its own sshd on 127.0.1.x), then uses the
// built `nixseal` CLI exactly as an operator would, in a temp repo: init, host add --scan,
// secrets add, deploy, an unattended reboot, the keys back with their owners. Tears down,
// unless run with --keep (`npm run demo -- --keep`): then the host keeps running as a
// playground and the demo prints how to reach it and how to remove it.
// No secret value is ever printed. Needs root and `bash scripts/setup.sh` first.
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootHost, type TestHost } from "../test/hosts/harness/index.js";
import { nixseal, prepareHost, STANDIN, type TestRepo } from "../test/hosts/fixtures/deploy-env.js";
import { HOST_PATHS } from "../core/on-host.js";

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

function say(text: string): void {
  process.stdout.write(`\n${bold("## " + text)}\n`);
}
function show(out: string): void {
  const t = out.trimEnd();
  if (t) process.stdout.write(t.split("\n").map((l) => `   ${l}`).join("\n") + "\n");
}

async function cli(repo: TestRepo, args: string[], stdin?: string, note?: string): Promise<string> {
  process.stdout.write(`${dim("operator$")} nixseal ${args.join(" ")}${note ? dim(`   # ${note}`) : ""}\n`);
  const r = await nixseal(repo, args, { stdin });
  show(r.stdout);
  show(r.stderr);
  if (r.code !== 0) throw new Error(`nixseal ${args[0]} exited ${r.code}`);
  return r.stdout;
}

async function onHost(host: TestHost, cmd: string): Promise<string> {
  process.stdout.write(`${dim(`root@${host.name}#`)} ${cmd}\n`);
  const r = await host.exec(cmd, { check: false });
  show(r.stdout + r.stderr);
  if (r.code !== 0) throw new Error(`"${cmd}" exited ${r.code} on ${host.name}`);
  return r.stdout;
}

/** After --keep: how to use the running host and the repo, and how to remove both. */
function keptHelp(host: TestHost, repo: TestRepo, base: string): string {
  const q = (s: string) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return [
    `the test host "${host.name}" keeps running at ${host.address} (ssh port ${host.port}); the repo is ${repo.dir}`,
    "",
    "a root shell on the host:",
    `  ${host.sshArgs().map(q).join(" ")}`,
    `  nsenter -t ${host.pid1} -m -u -i -p -r -w /bin/bash      # without ssh`,
    "the repo, as the demo's operator (its admin identity is a file in the demo's HOME):",
    `  cd ${q(repo.dir)} && export HOME=${q(base)}`,
    "  nixseal status; nixseal secrets list; nixseal deploy --dry-run",
    "remove both when done (a later npm test also removes a host whose demo has ended):",
    "  node dist/test/hosts/harness/reap.js        # test hosts whose process is gone: this one",
    `  rm -rf ${q(base)}`,
  ].join("\n");
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the demo boots a test machine and needs root (run bash scripts/setup.sh first)");
  const keep = process.argv.includes("--keep");
  const unknown = process.argv.slice(2).filter((a) => a !== "--keep");
  if (unknown.length) throw new Error(`unknown argument ${unknown[0]}: the demo takes only --keep`);
  // a kept host must outlive this process (the harness otherwise ties it to our life)
  if (keep) process.env.NIXSEAL_TESTHOST_DETACH = "1";
  const base = await mkdtemp(join(tmpdir(), "nixseal-demo-"));
  const repoDir = join(base, "infra");
  await mkdir(repoDir);
  const repo: TestRepo = {
    dir: repoDir,
    identity: "",
    // A fresh operator: own HOME, no ssh-agent; the admin identity goes to the OS keychain,
    // or to ~/.config/nixseal/identity.txt when no keychain is reachable.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: base, LANG: "C.UTF-8", NO_COLOR: "1" },
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
  let host: TestHost | undefined;
  let finished = false;
  // Ctrl-C: still stop the machine and remove the temp repo
  process.once("SIGINT", () => {
    process.stderr.write("\ndemo: interrupted, tearing down\n");
    void Promise.resolve(host?.stop())
      .catch(() => undefined)
      .then(() => repo.cleanup())
      .finally(() => process.exit(130));
  });
  try {
    process.stdout.write(bold("nixseal demo: secrets that survive an unattended reboot, deployed with the config\n"));

    say("1. Boot a test host: real systemd as PID 1, its own disk and sshd (a Debian machine in namespaces)");
    host = await bootHost("demo");
    show(`host "demo" is up at ${host.address} (booted in ${(host.bootTimesMs.at(-1)! / 1000).toFixed(1)} s)`);
    show(`its ssh host key: ${host.hostKeys.ed25519Pub.trim().split(" ").slice(0, 2).join(" ").slice(0, 60)}...`);

    say("2. Prepare the host: service users, the nixseal agent (systemd units), and the nixos-rebuild STAND-IN");
    show("(the test host is Debian, not NixOS: nixos-rebuild is replaced by a stand-in script that records the");
    show(` config it finds in /etc/nixos; it is ${STANDIN.replace("/opt/nixseal/", "")} and builds nothing)`);
    await prepareHost(host, ["webapp", "postgres"]);
    await onHost(host, "systemctl is-enabled nixseal-agent.socket nixseal-secrets.target 2>/dev/null || systemctl list-unit-files 'nixseal*' --no-legend");

    say("3. Create a secrets repo (the admin identity goes to the OS keychain, or a 0600 file when there is none)");
    await cli(repo, ["init"]);

    say("4. Register the host: read its SSH host key over SSH and pin it");
    await cli(repo, ["host", "add", "demo", "--target", `root@${host.address}`, "--scan", "--yes", "--ssh-key", host.operatorKeyPath]);

    say("5. Add secrets with their owners; values come from stdin or are generated, never from argv");
    await cli(repo, ["secrets", "add", "db-password", "--host", "demo", "--owner", "postgres", "--group", "postgres", "--mode", "0400", "--generate", "32"]);
    await cli(repo, ["secrets", "add", "api-token", "--host", "demo", "--owner", "webapp", "--group", "webapp", "--mode", "0400"], `demo-token-${Date.now()}`, "value piped on stdin");
    await cli(repo, ["secrets", "add", "session-key", "--host", "demo", "--owner", "webapp", "--group", "postgres", "--mode", "0440", "--generate", "48", "--encoding", "hex"]);
    await cli(repo, ["secrets", "list"]);

    say("6. Write the host's NixOS config in the repo (hosts/demo/) and deploy config + secrets together");
    await mkdir(join(repoDir, "hosts", "demo"), { recursive: true });
    await writeFile(
      join(repoDir, "hosts", "demo", "configuration.nix"),
      `{ config, pkgs, ... }:\n{\n  networking.hostName = "demo";\n  services.nixseal.enable = true;\n  services.nixseal.secretsFile = ./nixseal-secrets.json; # written by nixseal from nixseal.json\n  system.autoUpgrade.enable = true; # works: the config lives on the host\n  system.stateVersion = "24.05";\n}\n`,
    );
    await cli(repo, ["host", "sync", "demo"]);
    await cli(repo, ["deploy", "--dry-run"], undefined, "what would change");
    await cli(repo, ["deploy"]);
    await onHost(host, "ls -l /etc/nixos/ && tail -n 3 /var/log/nixos-rebuild-standin.log");
    await onHost(host, "ls -lL /run/keys/");

    say("7. Reboot the host, unattended: nobody deploys, the agent restores the keys at boot");
    const before = host.bootId;
    await host.reboot();
    show(`rebooted: boot id ${before.slice(0, 8)}... -> ${host.bootId.slice(0, 8)}... (/run is a fresh tmpfs)`);
    await host.waitFor(async () => (await host!.exec("systemctl is-active nixseal-secrets.target", { check: false })).code === 0, 60_000, "nixseal-secrets.target");
    await onHost(host, "systemctl is-active nixseal-secrets.target");
    // deploy and status talk to the agent's API, which starts after the keys are restored
    await host.waitFor(async () => (await host!.exec(`test -S ${HOST_PATHS.socket}`, { check: false })).code === 0, 60_000, "the agent API socket");
    await onHost(host, "ls -lL /run/keys/");
    await onHost(host, "ls /etc/nixos/");

    say("8. Ask every host what it runs against the repo");
    await cli(repo, ["status"]);

    say("Done: the keys came back with their owners after an unattended reboot, and /etc/nixos is on the host.");
    finished = true;
  } finally {
    if (keep && finished && host) {
      say("Kept (--keep): the host and the repo stay");
      show(keptHelp(host, repo, base));
      return;
    }
    say("Tear down: stop the host, remove the temp repo");
    await host?.stop().catch((e: unknown) => process.stderr.write(`demo: stopping the host failed: ${String(e)}\n`));
    await repo.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`\ndemo: FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});

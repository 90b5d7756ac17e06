// The "coming from NixOps" and "coming from agenix" pages are real sessions: this
// file sets up a home directory like an operator's (a NixOps state file built with
// NixOps' own DDL, an agenix repo encrypted by the real `age`), runs each command with
// bash and the built `nixseal`, and writes what they printed into docs/. Run it with
// `npm run docs:transcripts`; test/cli/import/transcripts.test.ts runs it again and checks
// the pages still match (keys and fingerprints aside, which are new every run).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeNixopsState } from "../test/cli/import/nixops-state.js";

const ROOT = resolve(import.meta.dirname, "..").replace(/\/dist$/, "");
const SHOWN_HOME = "/home/ops";

export interface Page {
  file: string;
  text: string;
}

interface Step {
  /** Markdown before the command. */
  say?: string;
  /** One bash line, as the operator types it. */
  cmd: string;
  /** Expected to fail (the page shows the refusal). */
  fails?: boolean;
}

function keygen(dir: string, name: string): string {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", join(dir, name)]);
  return readFileSync(join(dir, `${name}.pub`), "utf8").trim();
}

/** A fresh operator home with `nixseal` on PATH (the built CLI of this tree). */
function home(): { dir: string; env: NodeJS.ProcessEnv; cleanup: () => void } {
  const dir = mkdtempSync("/dev/shm/nixseal-transcript-");
  mkdirSync(join(dir, "bin"));
  symlinkSync(join(ROOT, "dist", "cli", "bin.js"), join(dir, "bin", "nixseal"));
  const env: NodeJS.ProcessEnv = { PATH: `${join(dir, "bin")}:${process.env.PATH}`, HOME: dir, NIXSEAL_NO_KEYCHAIN: "1", NO_COLOR: "1", LANG: "C.UTF-8", NIX_CONFIG: "build-users-group =", ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}) };
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function run(steps: Step[], h: { dir: string; env: NodeJS.ProcessEnv }): string {
  const out: string[] = [];
  for (const s of steps) {
    if (s.say) out.push(s.say, "");
    const r = spawnSync("bash", ["-c", `cd "$HOME/infra" 2>/dev/null; { ${s.cmd}\n} 2>&1`], { env: h.env, encoding: "utf8" });
    if ((r.status === 0) === Boolean(s.fails)) throw new Error(`transcript step "${s.cmd}" exited ${r.status}:\n${r.stdout}${r.stderr}`);
    const shown = (r.stdout + r.stderr).split(h.dir).join(SHOWN_HOME).trimEnd();
    out.push("```console", `$ ${s.cmd}`, ...(shown ? [shown] : []), "```", "");
  }
  return out.join("\n");
}

function nixopsPage(): Page {
  const h = home();
  try {
    const keys = join(h.dir, "host-keys");
    mkdirSync(keys);
    const web1 = keygen(keys, "web1");
    keygen(keys, "web2");
    keygen(keys, "db1");
    mkdirSync(join(h.dir, ".nixops"));
    writeNixopsState(join(h.dir, ".nixops", "deployments.nixops"), {
      schema: 3,
      deployments: [
        {
          uuid: "8a3c9f10-2b1e-11ef-9a6e-0242ac120002",
          name: "prod",
          machines: [
            { name: "web1", type: "container", attrs: { privateIpv4: "10.233.1.2", "container.publicHostKey": web1, keys: JSON.stringify({ "db-password": { text: "example-db-password", user: "postgres", group: "postgres", permissions: "0440", destDir: "/run/keys" } }) } },
            { name: "web2", type: "none", attrs: { targetHost: "web2.example.org", keys: JSON.stringify({ "api-token": { text: "example-api-token", user: "app", group: "keys", permissions: "0640", destDir: "/var/lib/app/keys" }, "tls.key": { keyFile: "/home/ops/tls/web2.key", user: "nginx", group: "nginx", permissions: "0400", destDir: "/run/keys" } }) } },
            { name: "db1", type: "none", attrs: { targetHost: "db1.example.org", targetPort: "2222", keys: JSON.stringify({ "backup-passphrase": { text: "example-backup-passphrase" } }) } },
          ],
        },
      ],
    });
    mkdirSync(join(h.dir, "tls"));
    writeFileSync(join(h.dir, "tls", "web2.key"), "example TLS key of web2\n", { mode: 0o600 });
    h.env.NEW_DB_PASSWORD = "example-new-db-password";
    const steps: Step[] = [
      { say: "Start a secrets repo (your admin key goes to the OS keychain; this machine has none, so to a file):", cmd: "mkdir -p ~/infra && cd ~/infra && nixseal init --admin-name ops@laptop" },
      { say: "See what the deployment becomes. Nothing is written, no value is shown:", cmd: "nixseal import nixops ~/.nixops/deployments.nixops --dry-run" },
      { say: "NixOps recorded the host key of the container, not of the two `none` machines. The import says so per host and changes nothing:", cmd: "nixseal import nixops ~/.nixops/deployments.nixops", fails: true },
      {
        say: "Pin those two. `--scan` reads each key over SSH and asks you to confirm its fingerprint; here the keys were copied from the hosts' `/etc/ssh/ssh_host_ed25519_key.pub` beforehand:",
        cmd: 'nixseal import nixops ~/.nixops/deployments.nixops --host-key "web2=$(cat ~/host-keys/web2.pub)" --host-key "db1=$(cat ~/host-keys/db1.pub)"',
      },
      { say: "The keys are secrets now, each encrypted to its hosts and to you, with NixOps' owners and modes:", cmd: "nixseal secrets list" },
      { say: "NixOps kept every value in plaintext in its state file. Rotate them (the new value on stdin, never in argv):", cmd: 'printf %s "$NEW_DB_PASSWORD" | nixseal secrets rotate db-password' },
      { say: "The key NixOps read from a file at deploy time comes over the same way:", cmd: "nixseal secrets add tls.key --host web2 --owner nginx --group nginx --from-file ~/tls/web2.key && ls secrets" },
    ];
    const body = run(steps, h);
    return {
      file: "docs/coming-from-nixops.md",
      text: `# Coming from NixOps

\`nixseal import nixops\` turns a NixOps deployment into a nixseal repo: every machine
becomes a host with its SSH target and host key, and every \`deployment.keys\` entry NixOps
stored becomes a secret with the same user, group, permissions and destination, encrypted
to that host's SSH key. After a deploy, the host restores them itself at every boot: no
\`nixops send-keys\` after a reboot. Reference: [cli.md](cli.md#nixseal-import-nixops-state---deployment-d---scan---yes---host-key-nameline---rename-oldnew---allow-world-readable---dry-run).

The state file is never opened itself: it is copied with its \`-wal\` into a private tmpfs
directory and read there, because NixOps upgrades the schema of what it opens and the file
holds every key in plaintext. Schema versions 1 to 3 are read; a file a running nixops holds
locked is refused.

<!-- Generated by npm run docs:transcripts (scripts/docs-transcripts.ts): a real session; do not edit by hand. -->

${body}
Next: add the hosts' NixOS config under \`hosts/NAME/\` and \`nixseal deploy\`
([deploy.md](deploy.md)). Services keep reading \`/run/keys/NAME\`.
`,
    };
  } finally {
    h.cleanup();
  }
}

function agenixPage(): Page {
  const h = home();
  try {
    const sshDir = join(h.dir, ".ssh");
    mkdirSync(sshDir);
    const keys = join(h.dir, "host-keys");
    mkdirSync(keys);
    const alice = keygen(sshDir, "id_ed25519");
    const bob = keygen(keys, "bob");
    const web1 = keygen(keys, "web1");
    const web2 = keygen(keys, "web2");
    const src = join(h.dir, "nixos-config", "secrets");
    mkdirSync(src, { recursive: true });
    writeFileSync(
      join(src, "secrets.nix"),
      `let
  alice = "${alice}";
  bob = "${bob}";
  users = [ alice bob ];

  web1 = "${web1}";
  web2 = "${web2}";
in
{
  "caddy-env.age".publicKeys = users ++ [ web1 ];
  "db-password.age".publicKeys = users ++ [ web1 web2 ];
  "wireguard-web2.age".publicKeys = [ alice web2 ];
  "armored-secret.age" = {
    publicKeys = [ alice web1 ];
    armor = true;
  };
}
`,
    );
    const enc = (file: string, to: string[], value: string, armor = false): void => {
      const r = spawnSync("age", [...to.flatMap((k) => ["-r", k]), ...(armor ? ["-a"] : []), "-o", join(src, file)], { input: value });
      if (r.status !== 0) throw new Error(`age: ${r.stderr}`);
    };
    enc("caddy-env.age", [alice, bob, web1], "DNS_TOKEN=example\n");
    enc("db-password.age", [alice, bob, web1, web2], "example-db-password");
    enc("wireguard-web2.age", [alice, web2], "example-wireguard-key");
    enc("armored-secret.age", [alice, web1], "example-armored", true);
    mkdirSync(join(h.dir, "infra"));
    writeFileSync(
      join(h.dir, "infra", "keys.json"),
      JSON.stringify({ hosts: { web1: { key: web1, target: "root@web1.example.org" }, web2: { key: web2, target: "root@web2.example.org" } }, admins: { alice, bob } }, null, 2) + "\n",
    );
    writeFileSync(
      join(h.dir, "infra", "web1-age.json"),
      JSON.stringify({ "caddy-env": { file: "/nix/store/0c4kq5hgk8d2l0r3mxvnjfrjq6y8w1zb-caddy-env.age", group: "caddy", mode: "0440", name: "caddy-env", owner: "caddy", path: "/run/agenix/caddy-env", symlink: true } }) + "\n",
    );
    const steps: Step[] = [
      { say: "The agenix repo, as agenix's README lays it out:", cmd: "ls ~/nixos-config/secrets && grep -c publicKeys ~/nixos-config/secrets/secrets.nix" },
      {
        say: "After Nix evaluates `secrets.nix` only the key strings are left, so say which key is a host (with how to reach it) and which an admin. On a terminal the import asks instead:",
        cmd: "sed -E 's/(AAAA[A-Za-z0-9+/]{8})[A-Za-z0-9+/=]+/\\1…/' keys.json",
      },
      {
        say: "Owners, modes and paths live in the NixOS config, not in `secrets.nix`; export them per host (`nix eval --json .#nixosConfigurations.web1.config.age.secrets > web1-age.json`). Then look first:",
        cmd: "nixseal import agenix ~/nixos-config/secrets --map keys.json --age-secrets web1=web1-age.json --dry-run",
      },
      { say: "Import. No key is needed and nothing is decrypted: the files are copied as they are, and a repo is created here:", cmd: "nixseal import agenix ~/nixos-config/secrets --map keys.json --age-secrets web1=web1-age.json" },
      { say: "Byte for byte the same files:", cmd: "cmp ~/nixos-config/secrets/db-password.age secrets/db-password.age && cmp ~/nixos-config/secrets/armored-secret.age secrets/armored-secret.age && echo identical" },
      {
        say: "nixseal encrypts each secret to its hosts and every admin; agenix let `secrets.nix` choose per file. Those two files lack bob, so they need a rekey before they ship:",
        cmd: "nixseal secrets list",
      },
      { say: "Alice's SSH key opens them (an admin identity can be an SSH key); the rekey only adds bob's stanza:", cmd: "nixseal secrets rekey -i ~/.ssh/id_ed25519 && nixseal secrets list" },
    ];
    const body = run(steps, h);
    return {
      file: "docs/coming-from-agenix.md",
      text: `# Coming from agenix

\`nixseal import agenix DIR\` reads your \`secrets.nix\` the way agenix does (with
\`nix-instantiate --eval --strict --json\`), maps its public keys to hosts and admins, and
keeps every \`.age\` file exactly as it is: the format is the same age, so nothing is
decrypted and no admin key is needed. Files whose recipients differ from what nixseal uses
(a secret's hosts plus every admin) are listed for \`nixseal secrets rekey\`. Reference:
[cli.md](cli.md#nixseal-import-agenix-dir---map-file---age-secrets-hostfile---rename-oldnew---allow-world-readable---dry-run).

<!-- Generated by npm run docs:transcripts (scripts/docs-transcripts.ts): a real session; do not edit by hand. -->

${body}
The agenix \`path\` (\`/run/agenix/caddy-env\`) became the secret's \`path\`, a link to the
live file, so a config that reads it keeps working; new configs can use \`/run/keys/NAME\`.
Next: \`nixseal deploy\` ([deploy.md](deploy.md)), then drop the agenix module.
`,
    };
  } finally {
    h.cleanup();
  }
}

/** Runs both sessions. */
export function renderPages(): Page[] {
  return [nixopsPage(), agenixPage()];
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  for (const p of renderPages()) {
    writeFileSync(join(ROOT, p.file), p.text);
    process.stdout.write(`wrote ${p.file}\n`);
  }
}

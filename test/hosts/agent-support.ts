// Shared by the agent's machine tests: a secrets repo driven through the real CLI,
// `nixseal bundle` for one host, shipped into the machine and imported there with
// `nixseal-agent import` (the scriptable path, no deploy involved), and a test service
// that records what it found at start.
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestHost } from "./harness/index.js";
import { addHost, addSecret, newRepo, nixsealOk, type TestRepo } from "./fixtures/deploy-env.js";

export interface AgentSecret {
  name: string;
  value: string;
  owner: string;
  group: string;
  mode: string;
}

/** The script the test service runs as root before its start: sha256 and stat of every key. */
const RECORD = `#!/bin/sh
# keyreader: what the service found at start (hashes and modes, never values)
boot=$(cat /proc/sys/kernel/random/boot_id)
for k in "$@"; do
  h=$(sha256sum < /run/keys/$k 2>/dev/null | cut -c1-64)
  s=$(stat -L -c %U:%G:%a /run/keys/$k 2>/dev/null)
  echo "$boot $k \${h:-missing} \${s:-missing} $(date +%s%N)"
done >> /var/lib/keyreader/reads
`;

/** Creates users and groups inside the host. */
export async function addAccounts(h: TestHost, users: string[], groups: string[] = []): Promise<void> {
  const script = [
    "set -e",
    ...groups.map((g) => `getent group ${g} >/dev/null || groupadd --system ${g}`),
    ...users.map((u) => `id -u ${u} >/dev/null 2>&1 || useradd --system --no-create-home --user-group --shell /usr/sbin/nologin ${u}`),
  ].join("\n");
  await h.exec(script);
}

/**
 * A repo with these secrets for host h; `nixseal bundle` writes its bundle, which is
 * copied into the host (ciphertext only) and imported by the agent, after
 * `nixseal-agent install`.
 */
export async function installWithBundle(h: TestHost, secrets: AgentSecret[]): Promise<TestRepo> {
  const repo = await newRepo();
  await addHost(repo, h);
  for (const s of secrets) await addSecret(repo, s.name, [h.name], s.value, s.owner, s.group, s.mode);
  const work = await mkdtemp(join(tmpdir(), "nixseal-agent-bundle-"));
  try {
    const out = join(work, "bundle");
    await nixsealOk(repo, ["bundle", h.name, "--out", out]);
    for (const f of readdirSync(out)) await h.writeFile(`/root/bundle/${f}`, readFileSync(join(out, f)), 0o600);
  } finally {
    await rm(work, { recursive: true, force: true }); // ciphertext only, but nothing stays in /tmp
  }
  await h.exec("nixseal-agent install >/tmp/install.log 2>&1 || { cat /tmp/install.log >&2; exit 1; }", { timeoutMs: 90_000 });
  await h.exec("nixseal-agent import /root/bundle");
  return repo;
}

/**
 * A oneshot test service running as `user`, ordered After= and Requires= on
 * nixseal-secrets.target: before its start it records (as root) the hash and
 * owner:group:mode of every key; then, as `user`, it reads its own key.
 */
export async function installKeyReader(h: TestHost, user: string, ownKey: string, allKeys: string[]): Promise<void> {
  await h.writeFile("/usr/local/bin/keyreader-record", RECORD, 0o755);
  await h.writeFile(
    "/etc/systemd/system/keyreader.service",
    `[Unit]
Description=test service that needs its key at start
Requires=nixseal-secrets.target
After=nixseal-secrets.target

[Service]
Type=oneshot
RemainAfterExit=yes
User=${user}
StateDirectory=keyreader
ExecStartPre=+/usr/local/bin/keyreader-record ${allKeys.join(" ")}
ExecStart=/bin/sh -c 'sha256sum < /run/keys/${ownKey} | cut -c1-64 >> /var/lib/keyreader/own'

[Install]
WantedBy=multi-user.target
`,
  );
  await h.exec("systemctl daemon-reload && systemctl enable keyreader.service");
}

/** The keyreader's records of one boot: key -> { hash, stat }. */
export async function readsOfBoot(h: TestHost, bootId: string): Promise<Map<string, { hash: string; stat: string }>> {
  const text = (await h.exec("cat /var/lib/keyreader/reads 2>/dev/null || true")).stdout;
  const m = new Map<string, { hash: string; stat: string }>();
  for (const line of text.split("\n")) {
    const [boot, key, hash, stat] = line.split(" ");
    if (boot === bootId && key && hash && stat) m.set(key, { hash, stat });
  }
  return m;
}

/** A request to the agent's unix socket from inside the host, with the host's node (body on stdin). */
export async function agentCall(h: TestHost, method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const js = `const http=require("http");let input="";process.stdin.on("data",d=>input+=d).on("end",()=>{const q=http.request({socketPath:"/run/nixseal-agent/agent.sock",method:${JSON.stringify(method)},path:${JSON.stringify(path)},headers:input?{"content-type":"application/json"}:{}},r=>{let b="";r.on("data",d=>b+=d);r.on("end",()=>process.stdout.write(JSON.stringify({status:r.statusCode,body:b})))});q.on("error",e=>{console.error(e.message);process.exit(1)});q.end(input)})`;
  const r = await h.execArgv(["/usr/local/bin/node", "-e", js], { input: body === undefined ? "" : JSON.stringify(body) });
  return JSON.parse(r.stdout.toString("utf8"));
}

/** GET on the agent's socket. */
export function agentGet(h: TestHost, path: string): Promise<{ status: number; body: string }> {
  return agentCall(h, "GET", path);
}

/**
 * A service that records each start and reload in /var/lib/svc/NAME. With failWhile,
 * it fails to (re)start while that file exists on the host.
 */
export function recordingUnit(name: string, failWhile?: string): string {
  return `[Service]
Type=simple
StateDirectory=svc
${failWhile ? `ExecStartPre=/bin/sh -c 'test ! -e ${failWhile}'\n` : ""}ExecStart=/bin/sh -c 'echo start >> /var/lib/svc/${name}; exec sleep infinity'
ExecReload=/bin/sh -c 'echo reload >> /var/lib/svc/${name}'
`;
}

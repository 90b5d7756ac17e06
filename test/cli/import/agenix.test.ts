// `nixseal import agenix`: agenix's own example layout (example/secrets.nix in
// ryantm/agenix: let-bound keys, "-leading-hyphen-filename.age", an armored secret),
// with keys from ssh-keygen and .age files made by the real `age` binary; secrets.nix
// is read by the real nix-instantiate.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../cli/main.js";
import type { CliIo } from "../../../cli/io.js";
import { age, sshKeygen, type KeyPair } from "../../core/support.js";
import { runNixseal, snapshotTree, testEnv } from "../harness.js";

const work = mkdtempSync(join(tmpdir(), "nixseal-import-agenix-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const k: Record<"user1" | "system1" | "system2", KeyPair> = {} as never;
let n = 0;

beforeAll(() => {
  for (const name of ["user1", "system1", "system2"] as const) k[name] = sshKeygen(work, name, "ed25519");
});

/** An agenix repo: secrets.nix as written, and each .age file encrypted by `age -R` to the keys given. */
function agenixRepo(rulesNix: string, files: Record<string, { to: KeyPair[]; armor?: boolean; value: string }>): string {
  const dir = join(work, `agenix${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "secrets.nix"), rulesNix);
  for (const [file, f] of Object.entries(files)) {
    const rcpt = join(dir, `.${file}.recipients`);
    writeFileSync(rcpt, f.to.map((p) => p.pub).join("\n") + "\n");
    const r = spawnSync("age", ["-R", rcpt, ...(f.armor ? ["-a"] : []), "-o", join(dir, file)], { input: f.value });
    expect(r.status, r.stderr.toString()).toBe(0);
    rmSync(rcpt);
  }
  return dir;
}

const LET = () => `let
  user1 = "${k.user1.pub}";
  system1 = "${k.system1.pub}";
  system2 = "${k.system2.pub}";
  systems = [ system1 system2 ];
in
`;

function exampleRepo(): { dir: string; values: Record<string, string> } {
  const values = { "secret1.age": "secret one", "secret2.age": "admin only", "passwordfile-user1.age": "$6$hash", "-leading-hyphen-filename.age": "hyphen", "armored-secret.age": "armored value" };
  const dir = agenixRepo(
    LET() +
      `{
  "secret1.age".publicKeys = [ user1 system1 ];
  "secret2.age".publicKeys = [ user1 ];
  "passwordfile-user1.age".publicKeys = [ user1 ] ++ systems;
  "-leading-hyphen-filename.age".publicKeys = [ user1 system2 ];
  "armored-secret.age" = {
    publicKeys = [ user1 system1 ];
    armor = true;
  };
}
`,
    {
      "secret1.age": { to: [k.user1, k.system1], value: values["secret1.age"] },
      "secret2.age": { to: [k.user1], value: values["secret2.age"] },
      "passwordfile-user1.age": { to: [k.user1, k.system1, k.system2], value: values["passwordfile-user1.age"] },
      "-leading-hyphen-filename.age": { to: [k.user1, k.system2], value: values["-leading-hyphen-filename.age"] },
      "armored-secret.age": { to: [k.user1, k.system1], armor: true, value: values["armored-secret.age"] },
    },
  );
  return { dir, values };
}

function keyMap(file: string, opts: { without?: "system2" } = {}): string {
  const hosts: Record<string, { key: string; target: string }> = { web1: { key: k.system1.pub, target: "root@192.0.2.11" } };
  if (opts.without !== "system2") hosts.web2 = { key: k.system2.pub, target: "root@192.0.2.12:2222" };
  writeFileSync(file, JSON.stringify({ hosts, admins: { alice: k.user1.pub } }, null, 2));
  return file;
}

function newRepoDir(): { dir: string; env: ReturnType<typeof testEnv> } {
  const dir = join(work, `repo${++n}`);
  mkdirSync(dir);
  return { dir, env: testEnv(dir) };
}

describe("nixseal import agenix", () => {
  it("imports agenix's example layout (5 secrets, 3 keys) without re-encrypting: byte-identical files that open with the host keys", async () => {
    const { dir: src, values } = exampleRepo();
    const { dir, env } = newRepoDir();
    const map = keyMap(join(work, `map${n}.json`));
    const exported = join(work, `web1-age${n}.json`);
    writeFileSync(exported, JSON.stringify({ secret1: { file: "/nix/store/0c4kq5hgk8d2l0r3mxvnjfrjq6y8w1zb-secret1.age", owner: "nginx", group: "nginx", mode: "0440", name: "secret1", path: "/run/agenix/secret1", symlink: true } }));
    const run = (argv: string[]) => runNixseal(argv, { cwd: dir, env });
    const argv = ["import", "agenix", src, "--map", map, "--age-secrets", `web1=${exported}`, "--rename=-leading-hyphen-filename=leading-hyphen-filename"];

    const dry = await run([...argv, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^host web1 {2}root@192\.0\.2\.11 {2}ssh-ed25519 SHA256:/m);
    expect(dry.stdout).toMatch(/^secret secret1 {2}from secret1\.age {2}nginx:nginx 0440 {2}hosts web1 {2}path \/run\/agenix\/secret1$/m);
    expect(existsSync(join(dir, "nixseal.json"))).toBe(false);

    const r = await run(argv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/imported 5 secrets, 2 hosts and 1 admin into .*nixseal\.json; no file was re-encrypted/);
    expect(r.stderr).not.toMatch(/rekey/);

    const repo = JSON.parse(readFileSync(join(dir, "nixseal.json"), "utf8"));
    expect(repo.admins).toEqual([{ name: "alice", recipient: k.user1.pub }]);
    expect(repo.hosts).toEqual({ web1: { target: "root@192.0.2.11", hostKey: k.system1.pub }, web2: { target: "root@192.0.2.12:2222", hostKey: k.system2.pub } });
    const meta = (s: Record<string, unknown>) => [s.hosts, s.owner, s.group, s.mode, s.path ?? null];
    expect(Object.fromEntries(Object.entries(repo.secrets as Record<string, Record<string, unknown>>).map(([name, s]) => [name, meta(s)]))).toEqual({
      "armored-secret": [["web1"], "root", "root", "0400", null],
      "leading-hyphen-filename": [["web2"], "root", "root", "0400", null],
      "passwordfile-user1": [["web1", "web2"], "root", "root", "0400", null],
      secret1: [["web1"], "nginx", "nginx", "0440", "/run/agenix/secret1"],
      secret2: [[], "root", "root", "0400", null],
    });
    const named: Record<string, string> = { "secret1.age": "secret1", "secret2.age": "secret2", "passwordfile-user1.age": "passwordfile-user1", "-leading-hyphen-filename.age": "leading-hyphen-filename", "armored-secret.age": "armored-secret" };
    for (const [file, name] of Object.entries(named)) {
      const copied = readFileSync(join(dir, "secrets", `${name}.age`));
      expect(copied.equals(readFileSync(join(src, file)))).toBe(true);
      const hosts = repo.secrets[name].hosts as string[];
      for (const [host, key] of [["web1", k.system1], ["web2", k.system2]] as const) {
        const out = age(["-d", "-i", key.path], copied);
        if (hosts.includes(host)) expect([out.status, out.stdout.toString()]).toEqual([0, values[file as keyof typeof values]]);
        else expect(out.status).not.toBe(0);
      }
    }
    // Nothing needs a rekey, so each host's bundle builds; no admin identity was made or needed.
    const list = await run(["secrets", "list"]);
    expect(list.stdout).not.toContain("needs rekey");
    for (const h of ["web1", "web2"]) expect((await run(["bundle", h, "--out", join(work, `b${n}-${h}`)])).code).toBe(0);
    expect(existsSync(join(dir, "home", ".config", "nixseal"))).toBe(false);
  });

  it("lists for rekey the files whose recipients differ from nixseal's, and rekey fixes them", async () => {
    const dir0 = agenixRepo(
      LET() +
        `{
  "host-only.age".publicKeys = [ system1 ];
  "drifted.age".publicKeys = [ user1 system1 system2 ];
  "fine.age".publicKeys = [ user1 system2 ];
}
`,
      {
        "host-only.age": { to: [k.system1], value: "no admin could open this" },
        // secrets.nix was changed after the file was made, without agenix --rekey
        "drifted.age": { to: [k.user1, k.system1], value: "drifted" },
        "fine.age": { to: [k.user1, k.system2], value: "fine" },
      },
    );
    const { dir, env } = newRepoDir();
    const run = (argv: string[]) => runNixseal(argv, { cwd: dir, env });
    const r = await run(["import", "agenix", dir0, "--map", keyMap(join(work, `map${n}.json`))]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/encrypted to other keys than secrets\.nix lists \(agenix --rekey was not run after a change\): drifted/);
    expect(r.stderr).toMatch(/2 secrets are encrypted to other recipients than nixseal uses \(its hosts plus every admin\): drifted, host-only/);
    expect((await run(["secrets", "list"])).stdout).toMatch(/^drifted\t.*\(needs rekey\)$/m);
    // The admin (alice, user1's key) rekeys what she can open: "drifted" holds her key.
    const rk = await run(["secrets", "rekey", "drifted", "-i", k.user1.path]);
    expect(rk.code, rk.stderr).toBe(0);
    const blob = readFileSync(join(dir, "secrets", "drifted.age"));
    for (const key of [k.system1, k.system2, k.user1]) expect(age(["-d", "-i", key.path], blob).stdout.toString()).toBe("drifted");
    // host-only was never encrypted to an admin: rekey says so instead of failing silently.
    const stuck = await run(["secrets", "rekey", "host-only", "-i", k.user1.path]);
    expect(stuck.code).not.toBe(0);
    expect(stuck.stderr).toMatch(/cannot decrypt/);
  });

  it("asks on a terminal which key is which when there is no map", async () => {
    const { dir: src } = exampleRepo();
    const { dir, env } = newRepoDir();
    const answers = ["web1", "root@192.0.2.11", "admin alice", "web2", "root@192.0.2.12"];
    const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
    const stderr = new PassThrough() as PassThrough & { isTTY?: boolean };
    const stdout = new PassThrough();
    stdin.isTTY = true;
    stderr.isTTY = true;
    let err = "";
    const order: string[] = [];
    stderr.on("data", (c: Buffer) => {
      err += c.toString();
      // One answer per question, after it is asked (a terminal types after the prompt).
      if (/\? $|\): $/.test(err) && answers.length) {
        const a = answers.shift()!;
        order.push(a);
        setImmediate(() => stdin.write(a + "\n"));
      }
    });
    stdout.resume();
    const io: CliIo = { stdin: stdin as unknown as Readable, stdout, stderr, env: { ...env, NO_COLOR: "1" }, cwd: dir };
    const code = await main(["import", "agenix", src, "--rename=-leading-hyphen-filename=hyphen"], io);
    expect(code, err).toBe(0);
    expect(order.length).toBe(5);
    const repo = JSON.parse(readFileSync(join(dir, "nixseal.json"), "utf8"));
    // secrets.nix lists user1 first, then system1, system2 (first use order).
    expect(err).toMatch(/key ssh-ed25519 SHA256:\S+ encrypts/);
    expect(Object.keys(repo.hosts).sort()).toEqual(["web1", "web2"]);
    expect(repo.admins.map((a: { name: string }) => a.name)).toEqual(["alice"]);
    expect(new Set([repo.hosts.web1.hostKey, repo.hosts.web2.hostKey, repo.admins[0].recipient])).toEqual(new Set([k.user1.pub, k.system1.pub, k.system2.pub]));
  });

  describe("bad input: a clear error and nothing written", () => {
    const cases: Array<[string, () => { src: string; map?: string; args?: string[] }, RegExp]> = [
      ["a secrets.nix that does not evaluate", () => ({ src: agenixRepo(`{ "a.age".publicKeys = [ "x" ; }\n`, {}) }), /secrets\.nix does not evaluate: error: syntax error/],
      ["a secrets.nix of another shape", () => ({ src: agenixRepo(`{ "a.age".publicKeys = "ssh-ed25519 AAAA"; }\n`, {}) }), /secrets\.nix: at a\.age\.publicKeys: /],
      ["no secrets.nix", () => {
        const d = join(work, `empty${++n}`);
        mkdirSync(d);
        return { src: d };
      }, /secrets\.nix does not evaluate/],
      ["a key that maps to no host", () => ({ src: exampleRepo().dir, map: keyMap(join(work, `partial${++n}.json`), { without: "system2" }) }), /1 public key of secrets\.nix maps to no host or admin: ssh-ed25519 SHA256:\S+ \(in -leading-hyphen-filename\.age, passwordfile-user1\.age\)/],
      ["a listed .age file that is missing", () => {
        const src = exampleRepo().dir;
        rmSync(join(src, "secret2.age"));
        return { src, map: keyMap(join(work, `m${++n}.json`)), args: ["--rename=-leading-hyphen-filename=hyphen"] };
      }, /"secret2\.age" names .*secret2\.age, which cannot be read \(ENOENT\)/],
      ["a file name that breaks the name rule (no --rename)", () => ({ src: exampleRepo().dir, map: keyMap(join(work, `m${++n}.json`)) }), /"-leading-hyphen-filename\.age": "-leading-hyphen-filename" is not a valid secret name/],
    ];
    for (const [what, make, message] of cases) {
      it(what, async () => {
        const { src, map, args = [] } = make();
        const { dir, env } = newRepoDir();
        const before = snapshotTree(dir);
        const srcBefore = snapshotTree(src);
        const r = await runNixseal(["import", "agenix", src, ...(map ? ["--map", map] : []), ...args], { cwd: dir, env });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).toMatch(/nixseal: hint: /);
        expect(snapshotTree(dir)).toEqual(before);
        expect(snapshotTree(src)).toEqual(srcBefore);
        expect(readdirSync(dir)).toEqual([]);
      });
    }
  });
});

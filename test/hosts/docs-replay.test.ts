// The README's "Using it" commands and docs/cli.md's "A first session", replayed as
// written in a new shell (env -i, a terminal from script(1)) on a real test host, after
// the install docs/install.md describes (npm install -g of the clone, into a prefix of
// this test's own). What is substituted, and only this:
//   - the install line (`npm ci && npm install -g .`) is the install step below, into a
//     private prefix instead of the box's global one;
//   - 192.0.2.10 (web1) is the test host's address and ssh port; 192.0.2.11 (web2, only
//     registered, never reached) stays;
//   - "ssh-ed25519 AAAA… root@web2" is a real key line, ./web1.key a real file;
//   - the operator's ~/.ssh/id_ed25519 is the key the test host authorises, and the
//     shell types "y" at the fingerprint question of --scan.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import { projectRoot } from "./harness/paths.js";
import { prepareHost } from "./fixtures/deploy-env.js";

const ROOT = projectRoot();

/** The first ```sh block after a heading. */
function shBlock(file: string, heading: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`${file}: no heading "${heading}"`);
  const m = /```sh\n([\s\S]*?)```/.exec(text.slice(at));
  if (!m) throw new Error(`${file}: no sh block after "${heading}"`);
  return m[1]!.split("\n").filter((l) => l.trim() !== "");
}

describe("the README and docs/cli.md, replayed in a new shell after npm install -g", () => {
  let h: TestHost;
  let work: string;
  let prefix: string;
  const dbPassword = `docs-db-${randomBytes(8).toString("hex")}`;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "nixseal-docs-"));
    prefix = join(work, "prefix");
    h = await bootHost("docs1");
    // what the README's secret needs on the host: its owner and the unit it restarts
    await prepareHost(h, ["postgres"]);
    await h.writeFile("/etc/systemd/system/postgresql.service", "[Service]\nExecStart=/bin/sleep infinity\n");
    await h.exec("systemctl daemon-reload && systemctl start postgresql.service");
  });
  afterAll(async () => {
    await h?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("npm install -g of the clone puts nixseal and nixseal-agent on a new shell's PATH, and the man page in its share/man", () => {
    const r = spawnSync("npm", ["install", "-g", "--prefix", prefix, "--ignore-scripts", "--offline", "--no-audit", "--no-fund", "--loglevel=error", ROOT], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const sh = spawnSync("env", ["-i", `HOME=${work}`, `PATH=${prefix}/bin:/usr/bin:/bin`, "bash", "--noprofile", "--norc", "-c", "command -v nixseal nixseal-agent && nixseal --version && nixseal-agent --version && MANPATH=" + `${prefix}/share/man` + " man -w nixseal"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(sh.status, sh.stderr).toBe(0);
    const [bin, agent, version, agentVersion, man] = sh.stdout.trim().split("\n");
    expect(bin).toBe(`${prefix}/bin/nixseal`);
    expect(agent).toBe(`${prefix}/bin/nixseal-agent`);
    expect(version).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
    expect(agentVersion).toContain(version);
    expect(man).toMatch(/nixseal\.1$/);
  });

  /** Runs lines in a new shell with a terminal (script(1)); "y" is typed for --scan's question. */
  function replay(lines: string[], dir: string): { code: number | null; out: string } {
    mkdirSync(dir, { recursive: true });
    const file = join(work, `replay-${randomBytes(3).toString("hex")}.sh`);
    writeFileSync(file, ["set -eu", `cd ${JSON.stringify(dir)}`, ...lines.map((l) => `echo "+ ${l.replace(/["\\$`]/g, "\\$&")}"\n${l}`)].join("\n") + "\n");
    const home = join(work, "home");
    const env = [
      "-i",
      `HOME=${home}`,
      `PATH=${prefix}/bin:/usr/bin:/bin`,
      "LANG=C.UTF-8",
      "TERM=dumb",
      `TMPDIR=${tmpdir()}`,
      `DB_PASSWORD=${dbPassword}`,
      "GIT_AUTHOR_NAME=op",
      "GIT_AUTHOR_EMAIL=op@example.org",
      "GIT_COMMITTER_NAME=op",
      "GIT_COMMITTER_EMAIL=op@example.org",
    ];
    const r = spawnSync("env", [...env, "script", "-qec", `bash --noprofile --norc ${file}`, "/dev/null"], { input: "y\n", encoding: "utf8", timeout: 180_000 });
    return { code: r.status, out: r.stdout + r.stderr };
  }

  function substitute(lines: string[], key: string): string[] {
    const web1 = `${h.address}${h.port === 22 ? "" : `:${h.port}`}`;
    return lines
      .filter((l) => !/^npm ci && npm install -g \./.test(l))
      .map((l) =>
        l
          .replace(/root@192\.0\.2\.10\b/g, `root@${web1}`)
          .replace(/"ssh-ed25519 AAAA… root@web2"/g, JSON.stringify(key))
          .replace(/\.\/web1\.key\b/g, join(work, "web1.key")),
      );
  }

  it("README: init, host add --scan, secrets add, deploy, status work as written", () => {
    const home = join(work, "home");
    mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
    copyFileSync(h.operatorKeyPath, join(home, ".ssh", "id_ed25519"));
    const lines = shBlock("README.md", "## Using it");
    expect(lines[0]).toMatch(/^npm ci && npm install -g \./); // the install, done above
    const r = replay(substitute(lines, ""), work);
    expect(r.code, r.out).toBe(0);
    // no keychain over a plain shell: the documented fallback, said in one line
    expect(r.out).toMatch(/warning: no OS keychain reachable/);
    // --scan showed the host's real fingerprint before asking
    const fp = spawnSync("ssh-keygen", ["-lf", "-"], { input: h.hostKeys.ed25519Pub, encoding: "utf8" }).stdout.split(" ")[1]!;
    expect(r.out).toContain(fp);
    expect(r.out).toMatch(/deploy: 1 of 1 host\(s\) ok/);
    expect(r.out).not.toContain(dbPassword);
  });

  it("README: the deployed secret is on the host as the README promises", async () => {
    expect((await h.exec("stat -L -c '%U %a' /run/keys/db-password")).stdout.trim()).toBe("postgres 400");
    expect((await h.exec("cat /run/keys/db-password")).stdout).toBe(dbPassword);
    expect((await h.exec("test -s /run/keys/session-key && echo yes")).stdout.trim()).toBe("yes");
  });

  it("docs/cli.md: a first session works as written", () => {
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "root@web2", "-f", join(work, "web2")]);
    writeFileSync(join(work, "web1.key"), "-----BEGIN TEST KEY-----\nnot a real key\n-----END TEST KEY-----\n");
    const key = readFileSync(join(work, "web2.pub"), "utf8").trim();
    const r = replay(substitute(shBlock("docs/cli.md", "## A first session"), key), join(work, "second"));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^db-password\s+v1\s+0400 postgres:\S*\s+web1,web2\s+ok\s*$/m);
    expect(r.out).toMatch(/^tls\.key\s+v1\s/m);
    expect(existsSync(join(work, "second", "infra", ".git"))).toBe(true);
    const log = spawnSync("git", ["-C", join(work, "second", "infra"), "log", "--stat", "--format=%s"], { encoding: "utf8" }).stdout;
    expect(log).toContain("secrets/db-password.age");
    expect(log).toContain("nixseal.json");
    expect(r.out).not.toContain(dbPassword);
  });
});

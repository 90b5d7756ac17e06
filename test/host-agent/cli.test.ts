// nixseal-agent as a person and a unit run it: the built bin as a child process.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { errors } from "../../host-agent/errors.js";
import { ensureUser, makeEnv, writeBundle, type AgentEnv } from "./support.js";

const AGENT = join(import.meta.dirname, "..", "..", "dist", "host-agent", "bin.cjs");
let env: AgentEnv;
afterEach(() => env?.cleanup());

function agent(...args: string[]) {
  const flags = ["--identity", env.hostKey, "--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir];
  const r = spawnSync(process.execPath, [AGENT, ...args, ...(args[0] === "check" ? [] : flags)], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("nixseal-agent command line", () => {
  it("import, then a restore with an unknown owner: exit 1 naming the secret and why; status says the same", async () => {
    env = makeEnv();
    const remove = ensureUser("nxs-cli-gone");
    const dir = await writeBundle(join(env.root, "b"), env.hostPub, [
      { name: "fine", value: "cli-value-fine" },
      { name: "lost", value: "cli-value-lost", owner: "nxs-cli-gone" },
    ]);
    const imp = agent("import", dir);
    expect(imp).toMatchObject({ code: 0 });
    expect(imp.stderr).toContain("imported generation 1: 2 of 2 secrets");
    remove();
    rmSync(join(env.config.runDir, "current"));
    const r = agent("restore");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("restored generation 1: 1 of 2 secrets");
    expect(r.stderr).toContain("error: secret 'lost': user 'nxs-cli-gone' does not exist on this host");
    expect(r.stderr).toMatch(/hint: create the user/);
    const s = agent("status");
    expect(s.code).toBe(1);
    expect(s.stdout).toMatch(/lost .*FAILED/);
    expect(s.stdout).toMatch(/fine .*ok/);
    const json = JSON.parse(agent("status", "--json").stdout);
    expect(json.secrets.find((x: { name: string }) => x.name === "lost")).toMatchObject({ ok: false, code: "NIXSEAL_ERR_AGENT_UNKNOWN_OWNER" });
    for (const out of [imp, r, s]) expect(out.stdout + out.stderr).not.toMatch(/cli-value/);
  });

  it("restore with nothing installed says so and succeeds", () => {
    env = makeEnv();
    const r = agent("restore");
    expect(r).toMatchObject({ code: 0 });
    expect(r.stderr).toContain("nothing to restore");
  });

  it("check validates a bundle dir and a manifest without keys; a bad one fails with the JSON path", async () => {
    env = makeEnv();
    const dir = await writeBundle(join(env.root, "b"), env.hostPub, [{ name: "a", value: "check-value" }]);
    expect(agent("check", dir)).toMatchObject({ code: 0, stdout: expect.stringContaining("1 secrets, every file matches its sha256") });
    expect(agent("check", join(dir, "manifest.json"))).toMatchObject({ code: 0 });
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    m.secrets[0].mode = "777777";
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(m));
    const bad = agent("check", dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("$.secrets[0].mode");
  });

  it("usage errors exit 2 with a hint", () => {
    env = makeEnv();
    expect(agent("frobnicate")).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown command frobnicate") });
    expect(agent("activate", "x")).toMatchObject({ code: 2 });
    expect(spawnSync(process.execPath, [AGENT, "restore", "--run-dir", "relative"], { encoding: "utf8" }).status).toBe(2);
  });

  it("install refuses pull options it could not run, before writing any unit", () => {
    env = makeEnv();
    const cases: Array<[string[], RegExp]> = [
      [["--follow"], /--trust-key, --trust-server, --follow and --host go with --server URL/],
      [["--server", "https://s.example.org"], /needs either --trust-key FILE .* or --trust-server/],
      [["--server", "ftp://s.example.org", "--trust-server"], /--server must be an http:\/\/ or https:\/\/ URL/],
      [["--server", "https://s.example.org", "--trust-key", join(env.root, "none.pub")], /none\.pub/],
    ];
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [AGENT, "install", "--agent", "/usr/local/bin/nixseal-agent", "--config", join(env.root, "no-such-agent.json"), ...args], { encoding: "utf8" });
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.status, args.join(" ")).not.toBe(0);
      expect(r.stderr).not.toMatch(/wrote /);
    }
  });

  it("every catalogue code is documented in docs/errors.md", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "errors.md"), "utf8");
    for (const make of Object.values(errors)) expect(doc).toContain(make.code);
  });
});

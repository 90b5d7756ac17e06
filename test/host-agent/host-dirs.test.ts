// The directories the agent writes into or through: the run dir (one memory-fs policy),
// the keys dir, the parents of a secret's `path`, the socket's directory. Each bad one is
// refused before anything changes, and the previous generation is still served.
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { serve } from "../../host-agent/api/serve.js";
import { restore } from "../../host-agent/boot/restore.js";
import { activate, check, importBundle, stage } from "../../host-agent/generations/operations.js";
import { listGenerations } from "../../host-agent/generations/store.js";
import { collectStatus, formatStatus } from "../../host-agent/status/host-status.js";
import { ensureUser, grepTree, makeEnv, mountTmpfs, umount, writeBundle, type AgentEnv } from "./support.js";

const USER = "nxs-mallory";
let removeUser: () => void;
let uid: number;
beforeAll(() => {
  removeUser = ensureUser(USER);
  uid = Number(execFileSync("id", ["-u", USER], { encoding: "utf8" }));
});
afterAll(() => removeUser());

let env: AgentEnv;
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) umount(m);
  env?.cleanup();
});

const key = (name: string) => readFileSync(join(env.config.keysDir, name), "utf8");
/** An env with generation 1 live: `live` = "dirs-previous". */
async function withPrevious(opts: Parameters<typeof makeEnv>[0] = {}): Promise<void> {
  env = makeEnv(opts);
  await importBundle(env.config, await writeBundle(join(env.root, "b1"), env.hostPub, [{ name: "live", value: "dirs-previous" }]));
}
/** Nothing was stored or flipped: generation 1 is still current and still served. */
function expectPreviousServed(): void {
  expect(listGenerations(env.config.stateDir)).toEqual([1]);
  expect(readlinkSync(join(env.config.stateDir, "current"))).toBe("generations/1");
  expect(key("live")).toBe("dirs-previous");
  expect(grepTree(env.root, "dirs-next")).toEqual([]);
}
const next = (extra: Partial<Parameters<typeof writeBundle>[2][number]> = {}) => writeBundle(join(env.root, `b-${Math.random().toString(36).slice(2)}`), env.hostPub, [{ name: "live", value: "dirs-next", ...extra }]);

describe("the run dir: one memory-filesystem policy", () => {
  it("a plain directory on a shared tmpfs (as in /dev/shm) is refused: not a mount of its own", async () => {
    await withPrevious();
    const shared = join(env.root, "shm");
    mountTmpfs(shared);
    mounts.push(shared);
    const runDir = join(shared, "nixseal");
    mkdirSync(runDir);
    const err = await importBundle({ ...env.config, runDir }, await next()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NIXSEAL_ERR_AGENT_NOT_OWN_MOUNT" });
    expect((err as Error).message).toContain(`is a directory on the tmpfs mounted at ${shared}, not a mount of its own`);
    expect(readdirSync(runDir)).toEqual([]);
    expectPreviousServed();
    const s = formatStatus(await collectStatus({ ...env.config, runDir }));
    expect(s).toContain(`${runDir} is tmpfs (noswap), a directory inside the mount at ${shared} (not a mount of its own)`);
  });

  it("a tmpfs without noswap is refused, naming the option that accepts it; with the option it works", async () => {
    await withPrevious();
    const swappy = join(env.root, "swappy");
    mkdirSync(swappy);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0751", "nixseal-test", swappy]);
    mounts.push(swappy);
    const config = { ...env.config, runDir: swappy };
    const err = await importBundle(config, await next()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NIXSEAL_ERR_AGENT_SWAPPABLE_TMPFS" });
    expect((err as Error).message).toContain("mounted without noswap");
    expect((err as { hints: string[] }).hints.join(" ")).toContain('"allowSwappableTmpfs": true in /etc/nixseal/agent.json');
    expect(readdirSync(swappy)).toEqual([]);
    expectPreviousServed();
    expect(formatStatus(await collectStatus(config))).toContain(`${swappy} is tmpfs (may swap)`);
    // its own keys dir: the env's links the previous generation in the other run dir
    await importBundle({ ...config, allowSwappableTmpfs: true, keysDir: join(env.root, "keys-swappy") }, await next());
    expect(readFileSync(join(swappy, "current", "live"), "utf8")).toBe("dirs-next");
  });

  it("a ramfs is accepted (it never swaps); a subdirectory of a noswap tmpfs is reported as such", async () => {
    env = makeEnv();
    const ram = join(env.root, "ram");
    mkdirSync(ram);
    execFileSync("mount", ["-t", "ramfs", "-o", "mode=0751", "nixseal-test", ram]);
    mounts.push(ram);
    await importBundle({ ...env.config, runDir: ram }, await next());
    expect(readFileSync(join(ram, "current", "live"), "utf8")).toBe("dirs-next");
    expect(formatStatus(await collectStatus({ ...env.config, runDir: ram }))).toContain(`${ram} is ramfs\n`);
    const sub = join(env.config.runDir, "sub");
    mkdirSync(sub);
    const st = await collectStatus({ ...env.config, runDir: sub });
    expect(st.memoryFs).toMatchObject({ type: "tmpfs", noswap: true, isMountPoint: false, mountPoint: env.config.runDir });
  });
});

describe("the keys dir", () => {
  it("a symlink to another directory (as /etc) is refused by import and left alone; the boot restore restores and says why", async () => {
    await withPrevious();
    const elsewhere = join(env.root, "etc-like");
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, "passwd"), "untouched");
    rmSync(env.config.keysDir);
    symlinkSync(elsewhere, env.config.keysDir);
    const live = realpathSync(join(env.config.runDir, "current"));
    const err = await importBundle(env.config, await next()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NIXSEAL_ERR_AGENT_KEYS_DIR" });
    expect((err as Error).message).toContain(`is a symlink to ${JSON.stringify(elsewhere)}, not to ${join(env.config.runDir, "current")}`);
    expect(readlinkSync(env.config.keysDir)).toBe(elsewhere);
    expect(readdirSync(elsewhere)).toEqual(["passwd"]);
    expect(realpathSync(join(env.config.runDir, "current"))).toBe(live);
    expect(readFileSync(join(env.config.runDir, "current", "live"), "utf8")).toBe("dirs-previous");
    const r = await restore(env.config);
    expect(r.outcome!.keysDirRefused).toContain("the secrets are in");
    expect(readlinkSync(env.config.keysDir)).toBe(elsewhere);
    expect(readdirSync(elsewhere)).toEqual(["passwd"]);
    expect(readFileSync(join(env.config.runDir, "current", "live"), "utf8")).toBe("dirs-previous");
  });

  it("a regular file, and a directory another user owns, are refused; nothing changes", async () => {
    await withPrevious();
    rmSync(env.config.keysDir);
    writeFileSync(env.config.keysDir, "a file");
    await expect(importBundle(env.config, await next())).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_KEYS_DIR", message: expect.stringContaining("is neither a directory nor a symlink") });
    expect(readFileSync(env.config.keysDir, "utf8")).toBe("a file");
    rmSync(env.config.keysDir);
    mkdirSync(env.config.keysDir, { mode: 0o750 });
    chownSync(env.config.keysDir, uid, 0);
    await expect(importBundle(env.config, await next())).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_KEYS_DIR", message: expect.stringContaining(`is a directory of uid ${uid}, not root's`) });
    expect(readdirSync(env.config.keysDir)).toEqual([]);
    expect(readFileSync(join(env.config.runDir, "current", "live"), "utf8")).toBe("dirs-previous");
    expect(listGenerations(env.config.stateDir)).toEqual([1]); // import refuses before it stores
    expect(readlinkSync(join(env.config.stateDir, "current"))).toBe("generations/1");
  });
});

/** Stage and import refuse the bundle before anything is stored or changed; /check lists why. */
async function refusedBeforeAnyChange(path: string, expected: string): Promise<void> {
  const bundle = await next({ path });
  for (const run of [() => stage(env.config, bundle), () => importBundle(env.config, bundle)]) {
    const err = await run().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NIXSEAL_ERR_AGENT_LINK", message: expect.stringContaining(expected) });
    expect((err as { hints: string[] }).hints.join(" ")).toContain("chown root DIR; chmod go-w DIR");
  }
  const checked = await check(env.config, bundle);
  expect(checked).toMatchObject({ ok: false, problems: [{ code: "NIXSEAL_ERR_AGENT_LINK", secret: "live", message: expect.stringContaining(expected) }] });
  expectPreviousServed();
}

describe("a secret's path is reached only through root's directories", () => {
  it("a directory on the way that another user owns: the bundle is refused before anything changes, nothing is made in it", async () => {
    await withPrevious();
    const home = join(env.root, "home-mallory");
    mkdirSync(home);
    chownSync(home, uid, 0);
    await refusedBeforeAnyChange(join(home, "app", "secret"), `${home} belongs to uid ${uid}, not root: its owner could redirect the link`);
    expect(readdirSync(home)).toEqual([]);
  });

  it("the link's own directory may be a service's (as /var/lib/caddy): its parents are root's, so it cannot be swapped", async () => {
    await withPrevious();
    const service = join(env.root, "var-lib-app");
    mkdirSync(service, { mode: 0o750 });
    chownSync(service, uid, uid);
    const target = join(service, "tls.key");
    const out = await importBundle(env.config, await next({ path: target }));
    expect(out.activation.results[0]).toMatchObject({ ok: true });
    expect(readlinkSync(target)).toBe(join(env.config.runDir, "current", "live"));
    expect(statSync(service).uid).toBe(uid); // left as the service has it
  });

  it("the link's own directory open to its group is refused (anyone in it could replace the link)", async () => {
    await withPrevious();
    const service = join(env.root, "var-lib-app");
    mkdirSync(service);
    chownSync(service, uid, uid);
    execFileSync("chmod", ["0770", service]);
    await refusedBeforeAnyChange(join(service, "tls.key"), `${service} is writable by its group or others`);
    expect(readdirSync(service)).toEqual([]);
  });

  it("a symlink on the way is refused at stage, and not followed when it appears after the stage", async () => {
    await withPrevious();
    const victim = join(env.root, "root-only");
    mkdirSync(victim, { mode: 0o700 });
    const via = join(env.root, "via");
    symlinkSync(victim, via);
    await refusedBeforeAnyChange(join(via, "secret"), `${via} is a symlink: links are made only through real directories`);
    expect(readdirSync(victim)).toEqual([]);
    // staged while the directory was real; swapped for the symlink before the activation
    rmSync(via);
    mkdirSync(via);
    const staged = await stage(env.config, await next({ path: join(via, "secret") }));
    rmSync(via, { recursive: true });
    symlinkSync(victim, via);
    const out = await activate(env.config, staged.generation);
    expect(out.results[0]).toMatchObject({ ok: false, code: "NIXSEAL_ERR_AGENT_LINK", error: expect.stringContaining(`${via} is a symlink`) });
    expect(readdirSync(victim)).toEqual([]);
    expect(key("live")).toBe("dirs-next"); // the secret itself is live; only its link is refused
  });

  it("a group- or world-writable directory without the sticky bit is refused; /tmp-style sticky ones are walked", async () => {
    await withPrevious();
    const open = join(env.root, "open");
    mkdirSync(open);
    execFileSync("chmod", ["0777", open]);
    await refusedBeforeAnyChange(join(open, "sub", "secret"), `${open} is writable by its group or others`);
    expect(readdirSync(open)).toEqual([]);
    execFileSync("chmod", ["1777", open]);
    const good = await importBundle(env.config, await next({ path: join(open, "secret") }));
    expect(good.activation.results[0]).toMatchObject({ ok: true });
    expect(readFileSync(join(open, "secret"), "utf8")).toBe("dirs-next");
  });

  it("missing parents are created root's and 0755 even under the units' UMask=0077", async () => {
    await withPrevious();
    const old = process.umask(0o077);
    try {
      const target = join(env.root, "srv", "app", "conf", "secret");
      const out = await importBundle(env.config, await next({ path: target }));
      expect(out.activation.results[0]).toMatchObject({ ok: true });
      for (const d of ["srv", "srv/app", "srv/app/conf"]) {
        const st = statSync(join(env.root, d));
        expect([st.uid, st.mode & 0o7777]).toEqual([0, 0o755]);
      }
      expect(readlinkSync(target)).toBe(join(env.config.runDir, "current", "live"));
    } finally {
      process.umask(old);
    }
  });
});

describe("the socket's directory", () => {
  it("serve refuses a socket directory another user made, and one under a directory another user owns", async () => {
    env = makeEnv();
    const theirs = join(env.root, "their-sock");
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, uid, 0);
    const logs: string[] = [];
    await expect(serve({ ...env.config, socket: join(theirs, "agent.sock") }, (l) => logs.push(l))).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_SOCKET_DIR", message: expect.stringContaining(`belongs to uid ${uid}`) });
    expect(readdirSync(theirs)).toEqual([]);
    const parent = mkdtempSync(join(env.root, "parent-"));
    chownSync(parent, uid, 0);
    await expect(serve({ ...env.config, socket: join(parent, "sock", "agent.sock") }, (l) => logs.push(l))).rejects.toMatchObject({ code: "NIXSEAL_ERR_AGENT_SOCKET_DIR", message: expect.stringContaining(`${parent} belongs to uid ${uid}`) });
    expect(existsSync(join(parent, "sock", "agent.sock"))).toBe(false);
    expect(logs).toEqual([]);
    expect(grepTree(env.root, "dirs-")).toEqual([]);
  });
});

describe("stage does not touch the keys dir", () => {
  it("stages with any keys dir (nothing live changes), so deploy's check step is unaffected", async () => {
    await withPrevious();
    rmSync(env.config.keysDir);
    writeFileSync(env.config.keysDir, "a file");
    const s = await stage(env.config, await next());
    expect(s.generation).toBe(2);
  });
});

// The packed tarball (docs/install.md, "From a packed tarball"): `npm pack` of the built
// clone installs with `npm install -g` and no registry at all (--offline: every dependency
// is bundled, at the version package-lock.json pins), and gives working programs and the
// man page. (The install from the clone, and the README in a new shell after it, is
// test/hosts/docs-replay.test.ts.)
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; dependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };

describe("npm install -g of the packed tarball, offline", () => {
  let work: string;
  let prefix: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "nixseal-install-"));
    prefix = join(work, "prefix");
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }), 60_000);

  it("packs the built tree with its dependencies, installs with no registry, and runs", () => {
    // the tree is built already (npm ci / npm run build); npm pack would only build it again
    const packed = spawnSync("npm", ["pack", "--ignore-scripts", "--pack-destination", work, "--loglevel=error"], { cwd: ROOT, encoding: "utf8", timeout: 180_000 });
    expect(packed.status, packed.stderr).toBe(0);
    const tarball = join(work, readdirSync(work).find((f) => f.endsWith(".tgz"))!);
    expect(tarball).toMatch(new RegExp(`nixseal-${pkg.version.replace(/\./g, "\\.")}\\.tgz$`));
    const listing = spawnSync("tar", ["tzf", tarball], { encoding: "utf8", maxBuffer: 64 << 20 }).stdout.split("\n");
    expect(listing).toContain("package/dist/man/nixseal.1");
    expect(listing).toContain("package/dist/cli/bin.js");
    expect(listing.some((f) => f.startsWith("package/dist/test/"))).toBe(false);
    for (const dep of Object.keys(pkg.dependencies)) expect(listing, dep).toContain(`package/node_modules/${dep}/package.json`);

    const installed = spawnSync("npm", ["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], {
      encoding: "utf8",
      timeout: 240_000,
      // an empty cache: nothing can come from anywhere but the tarball
      env: { ...process.env, npm_config_cache: join(work, "npm-cache") },
    });
    expect(installed.status, installed.stderr).toBe(0);
    const lib = join(prefix, "lib/node_modules/nixseal");
    // the bundled tree is the locked one
    for (const dep of ["fastify", "zod", "commander", "ssh2"]) {
      const v = (JSON.parse(readFileSync(join(lib, "node_modules", dep, "package.json"), "utf8")) as { version: string }).version;
      expect(v, dep).toBe(lock.packages[`node_modules/${dep}`]!.version);
    }
    const run = (bin: string, ...args: string[]) => spawnSync(join(prefix, "bin", bin), args, { encoding: "utf8", env: { PATH: `${prefix}/bin:/usr/bin:/bin`, HOME: work } });
    expect(run("nixseal", "--version").stdout.trim()).toBe(pkg.version);
    expect(run("nixseal-agent", "--version").stdout).toContain(pkg.version);
    expect(run("nixseal-server", "--help").status).toBe(0);
    const enc = spawnSync(join(prefix, "bin", "nixseal"), ["age", "encrypt", "-r", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"], { input: "x", env: { PATH: `${prefix}/bin:/usr/bin:/bin`, HOME: work } });
    expect(enc.status).toBe(0);
    expect(enc.stdout.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    expect(existsSync(join(prefix, "share/man/man1/nixseal.1"))).toBe(true);
  }, 480_000);
});

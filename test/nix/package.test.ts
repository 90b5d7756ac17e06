// nix/package.nix without Nix builds (nixpkgs and a Nix that builds are not here):
// its evaluation with the real nixpkgs lib (test/nix/package-args.nix), the pinned
// dependency hash against package-lock.json, the hash script reproducing that
// hash with nix-hash from a clean offline install, and the package's own build,
// install and installCheck scripts run by bash on that install, with Node 20 in
// place of nodejs_24 and shell stand-ins for nixpkgs' makeWrapper and patchShebangs.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, haveNix, nixEval, nixEvalError } from "./nix.js";

type Pkg = {
  pname: string;
  version: string;
  nodejs: string;
  buildPhase: string;
  installPhase: string;
  installCheckPhase: string;
  doInstallCheck: boolean;
  deps: { outputHash: string; outputHashMode: string; outputHashAlgo: string; buildPhase: string; dontFixup: boolean };
  source: Record<string, boolean>;
  lockSource: Record<string, boolean>;
};

const manifest = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { name: string; version: string; bin: Record<string, string> };
const pins = JSON.parse(readFileSync(`${ROOT}/nix/npm-deps.json`, "utf8")) as { lockSha256: string; hashes: Record<string, string> };
const lockText = readFileSync(`${ROOT}/package-lock.json`);
const work = mkdtempSync(join(tmpdir(), "nixseal-package-"));
afterAll(() => rmSync(work, { recursive: true, force: true }), 120_000);

describe("the pinned dependencies", () => {
  it("nix/npm-deps.json was pinned for this package-lock.json (run scripts/npm-deps-hash.sh after changing it)", () => {
    expect(createHash("sha256").update(lockText).digest("hex")).toBe(pins.lockSha256);
    expect(pins.hashes["x86_64-linux"]).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
  });

  it("no registry host is written into the lock file, the pins or the package", () => {
    for (const f of ["package-lock.json", "nix/npm-deps.json", "nix/package.nix", "scripts/npm-deps-hash.sh"]) {
      expect(readFileSync(join(ROOT, f), "utf8"), f).not.toMatch(/"resolved"|registry\.|https?:\/\/[a-z0-9.-]*npm/i);
    }
  });
});

describe.skipIf(!haveNix())("nix/package.nix", () => {
  const pkg = () => nixEval("import ./test/nix/package-args.nix { }") as Pkg;

  it("evaluates with nixpkgs' lib: name, version, nodejs_24, and a fixed-output npm ci of the lock alone", () => {
    const p = pkg();
    expect([p.pname, p.version]).toEqual([manifest.name, manifest.version]);
    expect(p.nodejs).toContain("nodejs-24");
    expect(p.deps).toMatchObject({ outputHash: pins.hashes["x86_64-linux"], outputHashMode: "recursive", outputHashAlgo: "sha256", dontFixup: true });
    expect(p.deps.buildPhase).toContain("npm ci --ignore-scripts");
    expect(p.lockSource).toEqual({ packageJson: true, packageLock: true, core: false });
    expect(p.source).toEqual({ core: true, packageLock: true, nodeModules: false, dist: false, test: false, git: false });
  });

  it("fails evaluation, naming the script, when package-lock.json changed without a new pin", () => {
    const copy = join(work, "stale");
    mkdirSync(join(copy, "nix"), { recursive: true });
    cpSync(join(ROOT, "nix/package.nix"), join(copy, "nix/package.nix"));
    cpSync(join(ROOT, "package.json"), join(copy, "package.json"));
    writeFileSync(join(copy, "package-lock.json"), lockText.toString().replace('"lockfileVersion": 3', '"lockfileVersion": 3 '));
    writeFileSync(join(copy, "nix/npm-deps.json"), JSON.stringify(pins));
    const err = nixEvalError(`(import ./test/nix/package-args.nix { nix = ${copy}/nix; }).deps.outputHash`);
    expect(err).toContain("package-lock.json changed since nix/npm-deps.json was pinned: run scripts/npm-deps-hash.sh");
  });

  it(
    "the hash script reproduces the pinned hash from a clean offline install, and the package builds, installs and passes its installCheck from that tree",
    () => {
      const deps = join(work, "npm-deps");
      const r = spawnSync("bash", [join(ROOT, "scripts/npm-deps-hash.sh"), "--print"], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, NPM_OFFLINE: "1", NIXSEAL_NPM_DEPS_KEEP: deps, TMPDIR: work },
      });
      expect(r.status, r.stderr).toBe(0);
      const printed = JSON.parse(r.stdout) as { system: string; lockSha256: string; hash: string };
      expect(printed).toEqual({ system: "x86_64-linux", lockSha256: pins.lockSha256, hash: pins.hashes["x86_64-linux"] });
      expect(existsSync(join(deps, ".package-lock.json"))).toBe(false);

      // The build: the filtered source (what package.nix's filter keeps), the deps tree as ${npmDeps}.
      const p = pkg();
      const src = join(work, "src");
      for (const entry of readdirSync(ROOT)) {
        if (["node_modules", "dist", "test", ".git", ".ci", "result"].includes(entry)) continue;
        cpSync(join(ROOT, entry), join(src, entry), { recursive: true });
      }
      const out = join(work, "out");
      const bin = join(work, "standins");
      mkdirSync(bin);
      // nixpkgs' makeWrapper and patchShebangs, as shell functions: the closest stand-ins here.
      const standins = `
        runHook() { :; }
        patchShebangs() { :; }
        makeWrapper() { local exe=$1 out=$2; shift 2; [ "$1" = --add-flags ] || return 1
          printf '#!/bin/sh\\nexec %s %s "$@"\\n' "$exe" "$2" > "$out"; chmod +x "$out"; }
      `;
      const node = process.execPath;
      const script = [standins, p.buildPhase, p.installPhase]
        .join("\n")
        .replaceAll(/\/nix\/store\/0{32}-nixseal-npm-deps-[^ ]+/g, deps)
        .replaceAll(`${p.nodejs}/bin/node`, node);
      const build = spawnSync("bash", ["--norc", "--noprofile", "-e", "-c", script], {
        cwd: src,
        encoding: "utf8",
        env: { PATH: `${dirname(node)}:${process.env.PATH}`, out, TMPDIR: work, HOME: work },
      });
      expect(build.status, build.stdout + build.stderr).toBe(0);
      const dest = join(out, "lib/node_modules", manifest.name);
      expect(existsSync(join(dest, "node_modules/typescript")), "dev dependencies pruned").toBe(false);
      expect(existsSync(join(dest, "node_modules/zod"))).toBe(true);
      expect(existsSync(join(dest, "dist/test"))).toBe(false);
      for (const b of Object.keys(manifest.bin)) expect(existsSync(join(out, "bin", b)), b).toBe(true);

      const check = () =>
        spawnSync("bash", ["--norc", "--noprofile", "-e", "-c", `runHook() { :; }\n${p.installCheckPhase}`], {
          env: { PATH: process.env.PATH, HOME: work, out, TMPDIR: work },
          encoding: "utf8",
        });
      expect(p.doInstallCheck).toBe(true);
      const ok = check();
      expect(ok.stderr).toBe("");
      expect(ok.status).toBe(0);
      // A package whose CLI reports another version fails the check.
      writeFileSync(join(out, "bin", "nixseal"), "#!/bin/sh\necho 0.0.0\n");
      chmodSync(join(out, "bin", "nixseal"), 0o755);
      expect(check().status).not.toBe(0);
    },
    300_000,
  );
});

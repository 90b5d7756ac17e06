// nix/package.nix's own logic, without nixpkgs (test/nix/package-args.nix
// passes buildNpmPackage as the identity): name and version, the source
// filter, and its installCheck script, run against this tree's dist/ as $out.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, haveNix, nixEval } from "./nix.js";

type Pkg = {
  pname: string;
  version: string;
  npmDepsHash: string;
  npmBuildScript: string;
  installCheckPhase: string;
  doInstallCheck: boolean;
  source: Record<string, boolean>;
};

const manifest = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
  files: string[];
};
const haveSshKeygen = spawnSync("sh", ["-c", "command -v ssh-keygen"]).status === 0;

describe.skipIf(!haveNix())("nix/package.nix", () => {
  const pkg = () => nixEval("import ./test/nix/package-args.nix") as Pkg;

  it("takes name and version from package.json and builds with its build script", () => {
    const p = pkg();
    expect(p.pname).toBe(manifest.name);
    expect(p.version).toBe(manifest.version);
    expect(manifest.scripts[p.npmBuildScript]).toBeDefined();
    expect(p.npmDepsHash).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
  });

  it("builds from the sources and the lock file, never from node_modules, dist or .git", () => {
    expect(pkg().source).toEqual({ core: true, packageLock: true, nodeModules: false, dist: false, test: false, git: false });
  });

  it("its build script compiles the filtered source (no test/, dist/) into every bin and every packaged path", () => {
    const p = pkg();
    const src = mkdtempSync(join(tmpdir(), "nixseal-pkgsrc-"));
    try {
      // The top-level entries package.nix's filter keeps; node_modules stands in for npm ci.
      for (const entry of readdirSync(ROOT)) {
        if (["node_modules", "dist", "test", ".git", ".ci", "result"].includes(entry)) continue;
        cpSync(join(ROOT, entry), join(src, entry), { recursive: true });
      }
      symlinkSync(join(ROOT, "node_modules"), join(src, "node_modules"));
      const build = spawnSync("npm", ["run", "--silent", p.npmBuildScript], { cwd: src, encoding: "utf8" });
      expect(build.stdout + build.stderr).toBe("");
      expect(build.status).toBe(0);
      for (const file of [...Object.values(manifest.bin), ...manifest.files]) expect(existsSync(join(src, file)), file).toBe(true);
      expect(existsSync(join(src, "dist", "test"))).toBe(false);
      const version = spawnSync(process.execPath, [join(src, manifest.bin.nixseal!), "--version"], { encoding: "utf8" });
      expect(version.stdout.trim()).toBe(manifest.version);
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  }, 120_000);

  it.skipIf(!haveSshKeygen || !existsSync(`${ROOT}/dist/cli/bin.js`))(
    "its installCheck passes on this tree's build, and fails on a broken one",
    () => {
      const p = pkg();
      expect(p.doInstallCheck).toBe(true);
      const out = mkdtempSync(join(tmpdir(), "nixseal-out-"));
      mkdirSync(join(out, "bin"));
      const wrap = (bin: string, target: string) => {
        writeFileSync(join(out, "bin", bin), `#!/bin/sh\nexec node ${JSON.stringify(join(ROOT, target))} "$@"\n`);
        chmodSync(join(out, "bin", bin), 0o755);
      };
      for (const [bin, target] of Object.entries(manifest.bin)) wrap(bin, target);
      const run = () =>
        spawnSync("bash", ["--norc", "--noprofile", "-e", "-c", `runHook() { :; }\n${p.installCheckPhase}`], {
          env: { PATH: process.env.PATH, HOME: out, out, TMPDIR: out },
          encoding: "utf8",
        });
      const ok = run();
      expect(ok.stderr).toBe("");
      expect(ok.status).toBe(0);

      // A package whose CLI reports another version must fail the check.
      writeFileSync(join(out, "bin", "nixseal"), "#!/bin/sh\necho 0.0.0\n");
      expect(run().status).not.toBe(0);
      rmSync(out, { recursive: true });
    },
  );
});

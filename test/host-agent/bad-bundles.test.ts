// Every bundle dir from outside the agent's store gets the one check (bundle-dir.ts
// readBundleUpload), whichever way it comes in: check, stage, import, import --root and
// the /stage API. Each bad bundle below is refused by all five with the same error,
// nothing on the host changes (the generations, both `current` links, the live value),
// nothing of it is written anywhere, and no value reaches any output.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex, MANIFEST_SEAL } from "../../host-agent/generations/bundle-dir.js";
import { listGenerations } from "../../host-agent/generations/store.js";
import { importBundle } from "../../host-agent/generations/operations.js";
import { main } from "../../host-agent/commands/main.js";
import { buildAgent } from "../../host-agent/api/app.js";
import { encrypt, parseRecipient, type BundleManifest } from "../../core/index.js";
import { grepTree, makeEnv, rewriteManifest, writeBundle, type AgentEnv } from "./support.js";

let env: AgentEnv;
let app: FastifyInstance;
let image: string;
const PREVIOUS = "hardening-previous-value";
/** Every value a bad bundle carries starts with this: none may appear anywhere. */
const BAD = "hardening-bad-value";

beforeAll(async () => {
  env = makeEnv();
  await importBundle(env.config, await writeBundle(join(env.root, "good"), env.hostPub, [{ name: "live", value: PREVIOUS }]));
  app = await buildAgent({ config: env.config });
  // an offline image for import --root: its own host key (the same one), users, no state yet
  image = join(env.root, "img");
  mkdirSync(join(image, "etc", "ssh"), { recursive: true });
  cpSync(env.hostKey, join(image, "etc", "ssh", "ssh_host_ed25519_key"));
  writeFileSync(join(image, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(join(image, "etc", "group"), "root:x:0:\n");
});
afterAll(async () => {
  await app?.close();
  env?.cleanup();
});

async function agent(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const io = { stdout: { write: (d: string | Uint8Array) => (out += d.toString()) }, stderr: { write: (d: string | Uint8Array) => (out += d.toString()) } };
  const flags = ["--identity", env.hostKey, "--state-dir", env.config.stateDir, "--run-dir", env.config.runDir, "--keys-dir", env.config.keysDir];
  const code = await main([...argv, ...(argv.includes("--root") ? [] : flags)], io);
  return { code, out };
}

/** What must not move: the generations, both links, the live value. */
function hostState() {
  return {
    generations: listGenerations(env.config.stateDir),
    state: readlinkSync(join(env.config.stateDir, "current")),
    run: realpathSync(join(env.config.runDir, "current")),
    live: readFileSync(join(env.config.keysDir, "live"), "utf8"),
    image: existsSync(join(image, "var")) ? readdirSync(join(image, "var"), { recursive: true }) : [],
  };
}

let n = 0;
/** A fresh, good bundle of two secrets (values that must never show up), then `edit`. */
async function badBundle(edit: (dir: string) => void | Promise<void>, secrets = [{ name: "a" }, { name: "b" }]): Promise<string> {
  const dir = await writeBundle(join(env.root, `bad-${++n}`), env.hostPub, secrets.map((s) => ({ ...s, value: `${BAD}-${s.name}` })));
  await edit(dir);
  return dir;
}

/**
 * Runs the bundle through every way in; each must refuse with `expected` and change
 * nothing. `inImage: false` leaves out import --root, for a path that is this host's
 * directory but not the image's (an image's own layout is checked on its own below).
 */
async function refusedEverywhere(dir: string, expected: RegExp, { inImage = true } = {}): Promise<void> {
  const before = hostState();
  const outputs: string[] = [];
  const ways = [["check", dir], ["stage", dir], ["import", dir], ...(inImage ? [["import", dir, "--root", image]] : [])];
  for (const argv of ways) {
    const r = await agent(...argv);
    outputs.push(r.out);
    expect(r.code, `${argv.join(" ")}: ${r.out}`).not.toBe(0);
    expect(r.out, argv.join(" ")).toMatch(expected);
    expect(r.out).toContain("nixseal-agent: hint: ");
  }
  const api = await app.inject({ method: "POST", url: "/stage", payload: { dir } });
  outputs.push(api.body);
  expect(api.statusCode).toBe(400);
  expect(api.json().message).toMatch(expected);
  expect(hostState()).toEqual(before);
  for (const o of outputs) expect(o).not.toContain(BAD);
  for (const tree of [env.config.stateDir, env.config.runDir, image, dirname(env.config.keysDir)]) expect(grepTree(tree, BAD)).toEqual([]);
}

describe("bundles from outside the agent's store", () => {
  it("a seal file in an upload turns nothing off: a name with ../ is refused by the schema", async () => {
    const outside = join(env.root, "outside");
    const dir = await badBundle((d) => {
      const m = JSON.parse(readFileSync(join(d, "manifest.json"), "utf8"));
      m.secrets[0].name = "../../../outside/a";
      m.secrets[0].path = join(outside, "link");
      const bytes = Buffer.from(JSON.stringify(m));
      writeFileSync(join(d, "manifest.json"), bytes);
      writeFileSync(join(d, MANIFEST_SEAL), sha256Hex(bytes) + "\n");
    });
    await refusedEverywhere(dir, /\$\.secrets\[0\]\.name: a secret name is/);
    expect(existsSync(outside)).toBe(false);
  });

  it("changed content under the old id is refused, also when the id is a stored generation's", async () => {
    const stored = JSON.parse(readFileSync(join(env.config.stateDir, "generations", "1", "manifest.json"), "utf8")) as BundleManifest;
    const dir = await badBundle(async (d) => {
      const m = JSON.parse(readFileSync(join(d, "manifest.json"), "utf8"));
      m.id = stored.id;
      writeFileSync(join(d, "manifest.json"), JSON.stringify(m));
    });
    await refusedEverywhere(dir, /its id is not the content id of its secrets/);
  });

  it("an id the writer picked is refused", async () => {
    const dir = await badBundle((d) => {
      const m = JSON.parse(readFileSync(join(d, "manifest.json"), "utf8"));
      m.id = "0".repeat(64);
      writeFileSync(join(d, "manifest.json"), JSON.stringify(m));
    });
    await refusedEverywhere(dir, /its id is not the content id/);
  });

  it("a blob swapped under the manifest (same id, new sha256 left out) is refused by its checksum", async () => {
    const dir = await badBundle(async (d) => writeFileSync(join(d, "a.age"), encrypt(Buffer.from(`${BAD}-swap`), [await parseRecipient(env.hostPub)])));
    await refusedEverywhere(dir, /a\.age does not match its sha256/);
  });

  for (const [what, extra] of [
    ["an unlisted .age file", (d: string) => writeFileSync(join(d, "c.age"), "age-encryption.org/v1\n")],
    ["a README", (d: string) => writeFileSync(join(d, "README"), "notes\n")],
    ["a subdirectory", (d: string) => mkdirSync(join(d, "sub"))],
    ["a symlink", (d: string) => symlinkSync("/etc/passwd", join(d, "x.age"))],
    ["an unlisted template", (d: string) => writeFileSync(join(d, "x.tmpl"), 'x={{ secret "a" }}\n')],
  ] as const) {
    it(`${what} in the dir is refused: a bundle holds exactly the files its manifest names`, async () => {
      await refusedEverywhere(await badBundle(extra), /is not named in manifest\.json \(a bundle holds manifest\.json and the files it names, nothing else\)/);
    });
  }

  it("a file the manifest names but the dir lacks is refused", async () => {
    await refusedEverywhere(await badBundle((d) => rmSync(join(d, "b.age"))), /b\.age is missing/);
  });

  it("a manifest over 4 MiB is refused before it is parsed", async () => {
    const dir = await badBundle((d) => writeFileSync(join(d, "manifest.json"), readFileSync(join(d, "manifest.json"), "utf8") + " ".repeat(5 * 1024 * 1024)));
    await refusedEverywhere(dir, /manifest\.json is 5\.0 MiB, more than the 4 MiB a bundle may hold/);
  });

  it("more secrets than a bundle may hold are refused", async () => {
    const dir = await badBundle((d) =>
      rewriteManifest(d, (m) => {
        const one = m.secrets[0]!;
        m.secrets = Array.from({ length: 10_001 }, (_, i) => ({ ...one, name: `s${i}`, file: `s${i}.age` }));
      }),
    );
    await refusedEverywhere(dir, /10001 secrets and templates, more than the 10000 a bundle may hold/);
  });

  it("a file over 32 MiB, and files over 64 MiB together, are refused from their sizes, before reading", async () => {
    const big = await badBundle((d) => truncateSync(join(d, "a.age"), 33 * 1024 * 1024)); // sparse: nothing to read
    await refusedEverywhere(big, /a\.age is 33 MiB, more than the 32 MiB one file may hold/);
    const many = await badBundle((d) => ["a", "b", "c"].forEach((s) => truncateSync(join(d, `${s}.age`), 30 * 1024 * 1024)), [{ name: "a" }, { name: "b" }, { name: "c" }]);
    await refusedEverywhere(many, /the files add up to more than the 64 MiB a bundle may hold/);
  });

  for (const id of ["4294967296", "4294967295", "99999999999"]) {
    it(`a numeric owner ${id} (beyond 2^32-2) is refused by the schema`, async () => {
      const dir = await badBundle((d) => rewriteManifest(d, (m) => (m.secrets[0]!.owner = id)));
      await refusedEverywhere(dir, /\$\.secrets\[0\]\.owner: (a numeric user or group id is at most 4294967294|a user or group is a POSIX name)/);
    });
  }

  const cases: Array<[string, () => string, RegExp, boolean?]> = [
    ["/", () => "/", /it is the root directory/],
    ["a trailing /", () => join(env.root, "etc") + "/", /it ends with "\/"/],
    ["a newline", () => join(env.root, "etc", "a\nb"), /control character/],
    ["an empty component", () => `${env.root}//etc/x`, /empty component/],
    ["a . component", () => `${env.root}/./etc/x`, /"\." or "\.\." component/],
    ["a relative path", () => "etc/x", /not an absolute path/],
    ["the run dir's current", () => join(env.config.runDir, "current"), /it is inside .*run\/nixseal, which nixseal manages/, false],
    ["the state dir's current", () => join(env.config.stateDir, "current"), /it is inside .*var\/lib\/nixseal, which nixseal manages/, false],
    ["the keys dir itself", () => env.config.keysDir, /it is .*run\/keys, which nixseal manages/, false],
    ["a name in the keys dir", () => join(env.config.keysDir, "other"), /it is inside .*run\/keys, which nixseal manages/, false],
    ["the host key", () => env.hostKey, /ssh_host_ed25519_key, which nixseal manages/, false],
    ["a parent of the state dir", () => join(env.root, "var"), /it contains .*var\/lib\/nixseal, which nixseal manages/, false],
    ["the agent's config dir", () => "/etc/nixseal/x", /it is inside \/etc\/nixseal, which nixseal manages/],
  ];
  for (const [what, path, expected, inImage] of cases) {
    it(`a path that is ${what} is refused`, async () => {
      const dir = await badBundle((d) => rewriteManifest(d, (m) => (m.secrets[0]!.path = path())));
      await refusedEverywhere(dir, expected, { inImage });
    });
  }

  it("import --root checks paths against the image's own layout, as its system will see it", async () => {
    for (const [path, expected] of [
      ["/var/lib/nixseal/current", /it is inside \/var\/lib\/nixseal, which nixseal manages/],
      ["/etc/ssh/ssh_host_ed25519_key", /it is \/etc\/ssh\/ssh_host_ed25519_key, which nixseal manages/],
      ["/run/keys", /it is \/run\/keys, which nixseal manages/],
    ] as const) {
      const dir = await badBundle((d) => rewriteManifest(d, (m) => (m.secrets[0]!.path = path)));
      const r = await agent("import", dir, "--root", image);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(expected);
      expect(r.out).not.toContain(BAD);
      expect(existsSync(join(image, "var"))).toBe(false);
    }
  });

  it("two secrets with the same path are refused (before: the last one won)", async () => {
    const dir = await badBundle((d) =>
      rewriteManifest(d, (m) => {
        for (const s of m.secrets) s.path = join(env.root, "etc", "same");
      }),
    );
    await refusedEverywhere(dir, /'a' and 'b' have the same path/);
  });

  it("templates get the same checks: a path the agent manages, a path a secret has, a template the dir lacks", async () => {
    const withTemplate = (path?: string) => (d: string) => {
      const text = Buffer.from('A={{ secret "a" }}\n');
      writeFileSync(join(d, "tpl.tmpl"), text);
      rewriteManifest(d, (m) => {
        m.templates = [{ name: "tpl", file: "tpl.tmpl", sha256: sha256Hex(text), owner: "root", group: "root", mode: "0400", ...(path ? { path } : {}), restartUnits: [], reloadUnits: [], version: 1, uses: ["a"] }];
      });
    };
    await refusedEverywhere(await badBundle(withTemplate(join(env.config.runDir, "current"))), /'tpl' has path .*, which cannot be used: it is inside .*run\/nixseal, which nixseal manages/, { inImage: false });
    const same = join(env.root, "etc", "same");
    await refusedEverywhere(
      await badBundle((d) => {
        withTemplate(same)(d);
        rewriteManifest(d, (m) => (m.secrets[0]!.path = same));
      }),
      /'a' and 'tpl' have the same path/,
    );
    await refusedEverywhere(await badBundle((d) => (withTemplate()(d), rmSync(join(d, "tpl.tmpl")))), /tpl\.tmpl is missing/);
  });

  it("a good bundle passes all five and becomes live (the checks refuse what is bad, not what is new)", async () => {
    const dir = await writeBundle(join(env.root, "fine"), env.hostPub, [{ name: "live", value: "hardening-next-value", path: join(env.root, "etc", "app", "live") }]);
    expect((await agent("check", dir)).code).toBe(0);
    const api = await app.inject({ method: "POST", url: "/stage", payload: { dir } });
    expect(api.statusCode).toBe(200);
    expect((await agent("import", dir)).code).toBe(0);
    expect(readFileSync(join(env.config.keysDir, "live"), "utf8")).toBe("hardening-next-value");
    expect(readFileSync(join(env.root, "etc", "app", "live"), "utf8")).toBe("hardening-next-value");
  });
});

// `nixseal age encrypt|decrypt` through main(argv, io) in-process, with the
// real age binary as the peer, and through the built bin once (dist/cli/bin.js).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import type { CliIo } from "../../cli/io.js";
import { age, ageKeygen, sshKeygen, tempDir, type KeyPair } from "../core/support.js";

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

async function nixseal(argv: string[], cwd: string, stdin?: Uint8Array | string, tty = false): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  // tty: pretend stdin and stderr are a terminal, so the passphrase prompt reads stdin.
  const input = Object.assign(Readable.from(stdin === undefined ? [] : [Buffer.from(stdin)]), tty ? { isTTY: true } : {});
  const io: CliIo = {
    stdin: input,
    stdout,
    stderr: Object.assign(stderr, tty ? { isTTY: true } : {}),
    env: tty ? { PATH: process.env.PATH, NO_COLOR: "1" } : { PATH: process.env.PATH },
    cwd,
  };
  const code = await main(["age", ...argv], io);
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

const t = tempDir();
const d = t.dir;
let ed: KeyPair;
let rsa: KeyPair;
let x: ReturnType<typeof ageKeygen>;
const SECRET = "cli-secret-" + randomBytes(6).toString("hex");

beforeAll(() => {
  ed = sshKeygen(d, "ed", "ed25519");
  rsa = sshKeygen(d, "rsa", "rsa", { bits: 2048 });
  x = ageKeygen(d, "x.txt");
  writeFileSync(join(d, "plain.txt"), SECRET);
  writeFileSync(join(d, "recipients.txt"), `# hosts\n${ed.pub}\n\n${rsa.pub}\n`);
  writeFileSync(join(d, "empty-recipients.txt"), "# nobody yet\n\n");
});
afterAll(() => t.cleanup());

/** No file other than the expected ones appeared in the dir (no temp leftovers, no partial output). */
function filesIn(dir: string): string[] {
  return readdirSync(dir).sort();
}

describe("nixseal age encrypt", () => {
  it("-r (repeatable) with a file argument and -o; age -d opens it with each key", async () => {
    const r = await nixseal(["encrypt", "-r", ed.pub, "-r", rsa.pub, "-r", x.recipient, "-o", "out.age", "plain.txt"], d);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(0);
    for (const key of [ed.path, rsa.path, x.path]) expect(age(["-d", "-i", key, join(d, "out.age")]).stdout.toString()).toBe(SECRET);
    expect(statSync(join(d, "out.age")).mode & 0o777).toBe(0o644);
  });

  it("-R file from stdin to stdout, --armor", async () => {
    const r = await nixseal(["encrypt", "-R", "recipients.txt", "--armor"], d, SECRET);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    expect(age(["-d", "-i", rsa.path], r.stdout).stdout.toString()).toBe(SECRET);
    expect(age(["-d", "-i", ed.path], r.stdout).stdout.toString()).toBe(SECRET);
  });

  it("an empty recipients file: one-line error, exit 1, nothing written", async () => {
    const before = filesIn(d);
    const r = await nixseal(["encrypt", "-R", "empty-recipients.txt", "-o", "never.age", "plain.txt"], d);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^nixseal: error: empty-recipients\.txt: the recipients file names no recipient \[NIXSEAL_ERR_AGE_NO_RECIPIENTS\]\nnixseal: hint: /);
    expect(filesIn(d)).toEqual(before);
  });

  it("the same key twice (-r and in -R, with another comment): one stanza, a warning naming both places", async () => {
    writeFileSync(join(d, "again.txt"), `# the same host key again\n${ed.pub.replace(/ \S+$/, " other-comment")}\n${x.recipient}\n`);
    const r = await nixseal(["encrypt", "-r", ed.pub, "-r", x.recipient, "-R", "again.txt", "-o", "dedup.age", "plain.txt"], d);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "nixseal: warning: recipient again.txt:2 is the same key as -r #1; encrypting to it once (remove the repeat)\n" +
        "nixseal: warning: recipient again.txt:3 is the same key as -r #2; encrypting to it once (remove the repeat)\n",
    );
    const header = readFileSync(join(d, "dedup.age"), "latin1").split("\n---")[0]!;
    expect(header.match(/^-> ssh-ed25519 /gm)).toHaveLength(1);
    expect(header.match(/^-> X25519 /gm)).toHaveLength(1);
    for (const key of [ed.path, x.path]) expect(age(["-d", "-i", key, join(d, "dedup.age")]).stdout.toString()).toBe(SECRET);
    expect(r.stderr).not.toContain(SECRET);
  });

  it("a recipient that is not a key, no recipients at all, a missing input file", async () => {
    const bad = await nixseal(["encrypt", "-r", "ssh-ed25519 nope", "plain.txt"], d);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^nixseal: error: -r #1: /);
    const none = await nixseal(["encrypt", "plain.txt"], d);
    expect(none.stderr).toMatch(/^nixseal: error: no recipients given \[NIXSEAL_ERR_AGE_NO_RECIPIENTS\]\n/);
    const missing = await nixseal(["encrypt", "-r", x.recipient, "nope.txt"], d);
    expect(missing.stderr).toMatch(/^nixseal: error: input file nope\.txt does not exist \[NIXSEAL_ERR_\w+\]\n/);
  });
});

describe("nixseal age decrypt", () => {
  it("files age made: -i ssh key, -i age identity, stdin and file, -o with mode 0600", async () => {
    const fromAge = age(["-R", ed.path + ".pub", "-r", x.recipient, "-o", join(d, "age-made.age")], SECRET);
    expect(fromAge.status).toBe(0);
    const a = await nixseal(["decrypt", "-i", ed.path, "age-made.age"], d);
    expect(a.stdout.toString()).toBe(SECRET);
    const b = await nixseal(["decrypt", "-i", "x.txt", "-o", "plain.out"], d, readFileSync(join(d, "age-made.age")));
    expect(b.code).toBe(0);
    expect(readFileSync(join(d, "plain.out"), "utf8")).toBe(SECRET);
    expect(statSync(join(d, "plain.out")).mode & 0o777).toBe(0o600);
    // Several -i: the first that matches wins, the others are skipped.
    const c = await nixseal(["decrypt", "-i", rsa.path, "-i", ed.path, "age-made.age"], d);
    expect(c.stdout.toString()).toBe(SECRET);
    // Armored input.
    const armored = age(["-a", "-R", rsa.path + ".pub"], SECRET).stdout;
    expect((await nixseal(["decrypt", "-i", rsa.path], d, armored)).stdout.toString()).toBe(SECRET);
  });

  for (const [label, damage, code] of [
    ["truncated file", (f: Buffer) => f.subarray(0, f.length - 7), "payload"],
    ["tampered payload", (f: Buffer) => Buffer.concat([f.subarray(0, f.length - 3), Buffer.from([f[f.length - 3]! ^ 1]), f.subarray(f.length - 2)]), "payload"],
    ["wrong key", (f: Buffer) => f, "no identity"],
  ] as const) {
    it(`${label}: exit non-zero, one-line error, no output file, an existing output left whole`, async () => {
      const file = age(["-R", (label === "wrong key" ? rsa.path : ed.path) + ".pub"], SECRET + SECRET).stdout;
      writeFileSync(join(d, "damaged.age"), damage(file));
      const before = filesIn(d);
      const r = await nixseal(["decrypt", "-i", ed.path, "-o", "fresh.out", "damaged.age"], d);
      expect(r.code).toBe(1);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr.split("\n")[0]).toMatch(code === "payload" ? /^nixseal: error: age payload authentication failed: / : /^nixseal: error: no identity matched/);
      expect(r.stderr).not.toContain(SECRET);
      expect(existsSync(join(d, "fresh.out"))).toBe(false);
      expect(filesIn(d)).toEqual(before);
      writeFileSync(join(d, "kept.out"), "previous contents");
      const again = await nixseal(["decrypt", "-i", ed.path, "-o", "kept.out", "damaged.age"], d);
      expect(again.code).toBe(1);
      expect(readFileSync(join(d, "kept.out"), "utf8")).toBe("previous contents");
    });
  }

  it("age itself leaves a partial file on a truncated input (the habit we do not copy)", () => {
    const big = randomBytes(200_000);
    const file = age(["-R", ed.path + ".pub"], big).stdout;
    writeFileSync(join(d, "big-truncated.age"), file.subarray(0, file.length - 100));
    const r = age(["-d", "-i", ed.path, "-o", join(d, "age-partial.out"), join(d, "big-truncated.age")]);
    expect(r.status).not.toBe(0);
    // Documented in NOTES.md: age writes what it could before failing.
    expect(existsSync(join(d, "age-partial.out"))).toBe(true);
  });

  it("no -i, a public key as -i, a wrong passphrase without a terminal", async () => {
    const none = await nixseal(["decrypt", "x.age"], d);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^nixseal: error: no identity given \[NIXSEAL_ERR_AGE_IDENTITY\]\n/);
    const pub = await nixseal(["decrypt", "-i", "ed.pub", "x.age"], d);
    expect(pub.stderr).toMatch(/^nixseal: error: ed\.pub:1: this is a public key/);
    const pw = sshKeygen(d, "pw", "ed25519", { passphrase: "secret words" });
    const enc = await nixseal(["decrypt", "-i", pw.path], d, age(["-R", pw.path + ".pub"], SECRET).stdout);
    expect(enc.code).toBe(1);
    expect(enc.stderr).toMatch(/the private key is passphrase-protected \[NIXSEAL_ERR_KEY_PASSPHRASE_REQUIRED\]\nnixseal: hint: /);
    expect(enc.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe("every bad input of age encrypt/decrypt through the CLI: exit 1, one error line plus hints, nothing written", () => {
  const stanzaEdit = (f: Buffer, edit: (h: string) => string): Buffer => {
    const end = f.indexOf("\n---") + 1;
    return Buffer.concat([Buffer.from(edit(f.subarray(0, end).toString("latin1")), "latin1"), f.subarray(end)]);
  };
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64").replace(/=+$/, "");
  const edFile = () => age(["-R", ed.path + ".pub"], SECRET).stdout;
  const decryptCases: [string, () => Buffer, RegExp][] = [
    ["tampered stanza body", () => stanzaEdit(edFile(), (h) => h.replace(/^(-> ssh-ed25519 .*\n)(.)/m, (_m, l: string, c: string) => l + (c === "A" ? "B" : "A"))), /invalid ssh-ed25519 stanza/],
    ["stanza with an extra argument", () => stanzaEdit(edFile(), (h) => h.replace(/^(-> ssh-ed25519 \S+ \S+)$/m, "$1 extra")), /expected 2 arguments, got 3/],
    ["share of 31 bytes", () => stanzaEdit(edFile(), (h) => h.replace(/^(-> ssh-ed25519 \S+) \S+$/m, `$1 ${b64(randomBytes(31))}`)), /share is not 32 bytes/],
    ["share not base64", () => stanzaEdit(edFile(), (h) => h.replace(/^(-> ssh-ed25519 \S+) \S+$/m, "$1 !!!!")), /share is not 32 bytes of canonical base64/],
    ["low-order share", () => stanzaEdit(edFile(), (h) => h.replace(/^(-> ssh-ed25519 \S+) \S+$/m, `$1 ${b64(new Uint8Array(32))}`)), /low-order/],
    ["not an age file", () => Buffer.from("hello\n"), /invalid age header/],
  ];
  for (const [label, make, message] of decryptCases) {
    it(`decrypt: ${label}`, async () => {
      writeFileSync(join(d, "bad.age"), make());
      const before = filesIn(d);
      const r = await nixseal(["decrypt", "-i", ed.path, "-o", "bad.out", "bad.age"], d);
      expect(r.code).toBe(1);
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^nixseal: error: /);
      expect(lines[0]).toMatch(message);
      expect(lines.slice(1).every((l) => l.startsWith("nixseal: hint: "))).toBe(true);
      expect(r.stderr).not.toContain(SECRET);
      expect(filesIn(d)).toEqual(before);
    });
  }

  it("encrypt: RSA under 2048 bits, a line that is not an SSH key, an empty -R file", async () => {
    const small = sshKeygen(d, "rsa1024", "rsa", { bits: 1024 });
    for (const [args, message] of [
      [["-r", small.pub], /RSA key of 1024 bits is too small/],
      [["-R", "rsa1024.pub"], /^nixseal: error: rsa1024\.pub:1: RSA key of 1024 bits/],
      [["-r", "ecdsa-sha2-nistp256 AAAAE2VjZHNh"], /unsupported key type/],
      [["-r", "hello"], /not a recipient/],
      [["-R", "empty-recipients.txt"], /names no recipient/],
    ] as const) {
      const before = filesIn(d);
      const r = await nixseal(["encrypt", ...args, "-o", "never.age", "plain.txt"], d);
      expect(r.code).toBe(1);
      expect(r.stderr.split("\n")[0]).toMatch(message);
      expect(filesIn(d)).toEqual(before);
    }
  });
});

describe("passphrase-protected keys through the prompt", () => {
  it("a wrong passphrase: one-line error, no stack, nothing written; the right one decrypts", async () => {
    const pw = sshKeygen(d, "pw-cli", "ed25519", { passphrase: "secret words" });
    writeFileSync(join(d, "pw.age"), age(["-R", pw.path + ".pub"], SECRET).stdout);
    const before = filesIn(d);
    const bad = await nixseal(["decrypt", "-i", pw.path, "-o", "pw.out", "pw.age"], d, "not the words\n", true);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("passphrase for ");
    expect(bad.stderr).toMatch(/nixseal: error: \S+pw-cli: wrong passphrase for the private key \[NIXSEAL_ERR_KEY_PASSPHRASE\]\nnixseal: hint: /);
    expect(bad.stderr).not.toContain("not the words");
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    expect(filesIn(d)).toEqual(before);
    const good = await nixseal(["decrypt", "-i", pw.path, "-o", "pw.out", "pw.age"], d, "secret words\n", true);
    expect(good.code).toBe(0);
    expect(readFileSync(join(d, "pw.out"), "utf8")).toBe(SECRET);
  });
});

describe("the built bin", () => {
  const bin = join(process.cwd(), "dist/cli/bin.js");
  it.runIf(existsSync(bin))("node dist/cli/bin.js age encrypt | age -d, and a failed decrypt exits 1 with no output file", () => {
    const enc = spawnSync("node", [bin, "age", "encrypt", "-r", ed.pub], { input: SECRET, cwd: d });
    expect(enc.status).toBe(0);
    expect(age(["-d", "-i", ed.path], enc.stdout).stdout.toString()).toBe(SECRET);
    writeFileSync(join(d, "trunc.age"), enc.stdout.subarray(0, enc.stdout.length - 1));
    const dec = spawnSync("node", [bin, "age", "decrypt", "-i", ed.path, "-o", "bin.out", "trunc.age"], { cwd: d });
    expect(dec.status).toBe(1);
    expect(dec.stderr.toString()).toMatch(/^nixseal: error: age payload authentication failed/);
    expect(existsSync(join(d, "bin.out"))).toBe(false);
  });
});

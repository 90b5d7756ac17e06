// The pieces push, the server and pull share from core: the bundle signature and file
// decoding (core/bundle-signing.ts), token files (core/token-file.ts), the JSON client
// (core/http-json.ts) and the error catalogue plumbing (core/error-catalogue.ts). The
// end-to-end path is in push-pull.test.ts; here each contract on its own, with real
// keys from ssh-keygen and a real loopback HTTP server.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleSigner, decodeBundleFiles, verifyBundleSignature } from "../../core/bundle-signing.js";
import { catalogueEntry, statusOf } from "../../core/error-catalogue.js";
import { errorBody } from "../../core/errors.js";
import { NixsealError } from "../../core/errors.js";
import { printable, requestJson, serverBaseUrl } from "../../core/http-json.js";
import type { SshEd25519PrivateKey } from "../../core/keys/ssh-private.js";
import { parseSshPrivateKey, parseSshPublicKey, type SshPublicKey } from "../../core/index.js";
import type { BundleManifest } from "../../core/schema/bundle.js";
import { readPrivateFile, readTokenFile } from "../../core/token-file.js";

const dir = mkdtempSync(join(tmpdir(), "nixseal-shared-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function keygen(name: string): Promise<{ priv: SshEd25519PrivateKey; pub: SshPublicKey }> {
  const path = join(dir, name);
  expect(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path]).status).toBe(0);
  const priv = (await parseSshPrivateKey(readFileSync(path, "utf8"), path)) as SshEd25519PrivateKey;
  return { priv, pub: parseSshPublicKey(readFileSync(`${path}.pub`, "utf8").trim()) };
}

const blob = Buffer.from("age-encryption.org/v1\n-> X25519 stand-in\n--- mac\npayload");
const manifest: BundleManifest = {
  format: "nixseal-bundle/v1",
  host: "web1",
  id: "a".repeat(64),
  createdAt: "2026-11-26T00:00:00.000Z",
  secrets: [
    { name: "db", file: "db.age", sha256: createHash("sha256").update(blob).digest("hex"), owner: "root", group: "root", mode: "0400", restartUnits: [], reloadUnits: [], version: 1 },
  ],
};

describe("bundle signatures", () => {
  let operator: Awaited<ReturnType<typeof keygen>>;
  let other: Awaited<ReturnType<typeof keygen>>;
  beforeAll(async () => {
    [operator, other] = await Promise.all([keygen("operator"), keygen("other")]);
  });

  it("a signature verifies against its key, and tells each refusal apart", () => {
    const sig = bundleSigner(operator.priv)(manifest);
    expect(sig).toMatch(/^-----BEGIN SSH SIGNATURE-----\n[\s\S]+\n-----END SSH SIGNATURE-----\n$/);
    expect(verifyBundleSignature(manifest, sig, [other.pub, operator.pub])).toBe("ok");
    expect(verifyBundleSignature(manifest, undefined, [operator.pub])).toBe("unsigned");
    expect(verifyBundleSignature(manifest, { key: "x" }, [operator.pub])).toBe("unsigned");
    expect(verifyBundleSignature(manifest, "-----BEGIN SSH SIGNATURE-----\n!!!\n-----END SSH SIGNATURE-----\n", [operator.pub])).toBe("bad-key");
    expect(verifyBundleSignature(manifest, sig, [other.pub])).toBe("untrusted");
    expect(verifyBundleSignature({ ...manifest, host: "web2" }, sig, [operator.pub])).toBe("mismatch");
    // What is signed is the JSON text: the same fields in another order are another manifest.
    const reordered = Object.assign({ host: manifest.host }, manifest);
    expect(verifyBundleSignature(reordered, sig, [operator.pub])).toBe("mismatch");
  });

  it("ssh-keygen -Y verify checks a bundle signature by hand (namespace nixseal-bundle-v1)", () => {
    const sig = bundleSigner(operator.priv)(manifest);
    writeFileSync(join(dir, "manifest.sig"), sig);
    writeFileSync(join(dir, "signers"), `operator ${Buffer.from(operator.pub.wire).toString("base64").replace(/^/, "ssh-ed25519 ")}\n`);
    const ok = spawnSync("ssh-keygen", ["-Y", "verify", "-f", join(dir, "signers"), "-I", "operator", "-n", "nixseal-bundle-v1", "-s", join(dir, "manifest.sig")], { input: JSON.stringify(manifest) });
    expect(ok.status, ok.stderr.toString()).toBe(0);
    const wrongNs = spawnSync("ssh-keygen", ["-Y", "verify", "-f", join(dir, "signers"), "-I", "operator", "-n", "nixseal-request-v1", "-s", join(dir, "manifest.sig")], { input: JSON.stringify(manifest) });
    expect(wrongNs.status).not.toBe(0);
  });
});

describe("bundle files", () => {
  const good = { "db.age": blob.toString("base64") };

  it("decodes exactly the files the manifest names, each checked against its sha256", () => {
    const r = decodeBundleFiles(manifest, good);
    expect("files" in r && r.files.get("db.age")).toEqual(blob);
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 1]! ^= 1;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, "db.age is missing"],
      [{ "db.age": 42 }, "db.age is missing"],
      [{ "db.age": good["db.age"] + "=" }, "db.age is not canonical base64"],
      [{ "db.age": flipped.toString("base64") }, "db.age does not match its sha256 in manifest.json"],
      [{ ...good, "extra.age": good["db.age"] }, "extra.age is not named in manifest.json"],
    ];
    for (const [files, why] of cases) expect(decodeBundleFiles(manifest, files)).toEqual({ refused: why });
    const twice = { ...manifest, secrets: [manifest.secrets[0]!, { ...manifest.secrets[0]!, name: "db2" }] };
    expect(decodeBundleFiles(twice, good)).toEqual({ refused: "file db.age is named by two secrets" });
  });
});

describe("token files", () => {
  const errors = { code: "NIXSEAL_ERR_TEST_USAGE", exitCode: 2 };
  const file = (name: string, text: string, mode = 0o600) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, mode);
    return p;
  };

  it("reads one token, trimmed, from a file only its owner may read", async () => {
    const token = randomBytes(16).toString("hex");
    expect(await readTokenFile(file("ok", `${token}\n`), errors, 16)).toBe(token);
  });

  it("refuses a missing, exposed, empty, short or spaced token file, never quoting it", async () => {
    const secret = "tok-" + randomBytes(12).toString("hex");
    const cases: Array<[string, number, RegExp, RegExp]> = [
      [join(dir, "absent"), 1, /^cannot read the token file .*absent: ENOENT$/, /check the path/],
      [file("exposed", secret, 0o640), 1, /exposed is readable by others \(mode 0640\); refusing to use it for tokens$/, /^chmod 600 .*exposed$/],
      [file("empty", "\n"), 1, /empty must hold one token on one line/, /write the token the server was started with/],
      [file("spaced", `${secret} ${secret}`), 1, /spaced must hold one token on one line/, /server was started with/],
      [file("short", "abc"), 16, /short must hold one token of 16 or more printable characters, without spaces$/, /^make one: \(umask 077; openssl rand -hex 32 > .*short\)$/],
    ];
    for (const [path, min, message, hint] of cases) {
      const err = await readTokenFile(path, errors, min).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, path).toBeInstanceOf(NixsealError);
      const e = err as NixsealError;
      expect([e.code, e.exitCode]).toEqual(["NIXSEAL_ERR_TEST_USAGE", 2]);
      expect(e.message).toMatch(message);
      expect(e.hints).toHaveLength(1);
      expect(e.hints[0]).toMatch(hint);
      expect(e.message + e.hints.join("")).not.toContain(secret);
    }
    await expect(readPrivateFile(file("json", "{}", 0o604), errors)).rejects.toThrow(/readable by others \(mode 0604\)/);
  });
});

describe("the JSON client", () => {
  let server: Server;
  let base: URL;
  let answer: (path: string, body: string) => [number, string];
  const seen: Array<{ method?: string; auth?: string; type?: string; body: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push({ method: req.method, auth: req.headers.authorization, type: req.headers["content-type"], body });
        const [status, text] = answer(req.url ?? "", body);
        res.writeHead(status, { "content-type": "application/json" }).end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = serverBaseUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, { code: "X", exitCode: 2 });
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it("sends method, bearer token and JSON body, relative to the base path; returns the reply", async () => {
    answer = (path) => [201, JSON.stringify({ path })];
    const reply = await requestJson(base, "v1/x", { method: "PUT", token: "t0ken", body: { a: 1 }, timeoutMs: 5000, maxBytes: 1000 });
    expect(reply).toEqual({ path: "/api/v1/x" });
    expect(seen.at(-1)).toEqual({ method: "PUT", auth: "Bearer t0ken", type: "application/json", body: '{"a":1}' });
  });

  it("passes on a server's NIXSEAL_ERR_* error as one printable line; refuses anything else", async () => {
    answer = () => [404, JSON.stringify({ code: "NIXSEAL_ERR_SERVER_NO_BUNDLE", message: "gone\x1b[2J\nnow", hints: ["a\x07b", 1, 2, 3, 4, 5, 6] })];
    const e = (await requestJson(base, "v1/y", { timeoutMs: 5000, maxBytes: 1000 }).catch((x: unknown) => x)) as NixsealError;
    expect([e.code, e.message]).toEqual(["NIXSEAL_ERR_SERVER_NO_BUNDLE", `${base.origin}: gone [2J now`]);
    expect(e.hints).toEqual(["a b", "1", "2", "3", "4"]);
    for (const [status, text] of [[500, JSON.stringify({ code: "not ours", message: "x" })], [200, "<html>"], [502, ""]] as const) {
      answer = () => [status, text];
      await expect(requestJson(base, "v1/z", { timeoutMs: 5000, maxBytes: 1000 })).rejects.toMatchObject({
        code: "NIXSEAL_ERR_SERVER_REPLY",
        message: `${base.origin} answered HTTP ${status} without a nixseal reply`,
      });
    }
    answer = () => [200, JSON.stringify({ big: "x".repeat(2000) })];
    await expect(requestJson(base, "v1/big", { timeoutMs: 5000, maxBytes: 1000 })).rejects.toMatchObject({ code: "NIXSEAL_ERR_SERVER_REPLY", message: `${base.origin} sent more than 1000 bytes` });
    expect(printable("x".repeat(600))).toHaveLength(500);
  });

  it("a closed port is unreachable, named by origin", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(requestJson(new URL(`http://127.0.0.1:${port}/`), "v1/health", { timeoutMs: 5000, maxBytes: 1000 })).rejects.toMatchObject({
      code: "NIXSEAL_ERR_SERVER_UNREACHABLE",
      message: `cannot reach http://127.0.0.1:${port}: ECONNREFUSED`,
    });
  });

  it("--server URLs: http(s) only, no credentials, query or fragment", () => {
    const errors = { code: "NIXSEAL_ERR_TEST_URL", exitCode: 2 };
    expect(serverBaseUrl("https://s.example.org/nixseal", errors).href).toBe("https://s.example.org/nixseal/");
    for (const bad of ["ftp://h/", "http://u:p@h/", "http://h/?t=1", "http://h/#x", "not a url"]) {
      expect(() => serverBaseUrl(bad, errors), bad).toThrow(expect.objectContaining({ code: "NIXSEAL_ERR_TEST_URL", exitCode: 2 }));
    }
  });
});

describe("error catalogue entries", () => {
  it("make NixsealErrors with code, status, printf message, hints and exit status", () => {
    const notFound = catalogueEntry("NIXSEAL_ERR_TEST_NOT_FOUND", "host %s has no bundle %s", 404, ["push one"]);
    const e = notFound(["web1", "abc"]);
    expect(e).toBeInstanceOf(NixsealError);
    expect(e).toBeInstanceOf(Error);
    expect([notFound.code, notFound.statusCode, e.statusCode, e.exitCode]).toEqual(["NIXSEAL_ERR_TEST_NOT_FOUND", 404, 404, 1]);
    expect(errorBody(e)).toEqual({ code: "NIXSEAL_ERR_TEST_NOT_FOUND", message: "host web1 has no bundle abc", hints: ["push one"] });
    const cause = new Error("ENOSPC");
    const withOpts = notFound(["a", "b"], { cause, hints: ["other"] });
    expect([withOpts.cause, withOpts.hints]).toEqual([cause, ["other"]]);
    expect(catalogueEntry("NIXSEAL_ERR_TEST_USAGE", "%s", 400, [], 2)(["x"]).exitCode).toBe(2);
    expect([statusOf(e), statusOf(new NixsealError("NIXSEAL_ERR_X", "x")), statusOf(new Error("x")), statusOf(null)]).toEqual([404, 400, 500, 500]);
  });
});

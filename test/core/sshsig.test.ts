// SSHSIG against the real peer, OpenSSH's ssh-keygen: what nixseal signs, `ssh-keygen
// -Y verify` accepts; what `ssh-keygen -Y sign` makes, nixseal verifies; and what must be
// refused is: another namespace, a changed message, an "ssh-rsa" (SHA-1) signature, an
// RSA key under 2048 bits, a blob cut short.
import { spawnSync } from "node:child_process";
import { createHash, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSshPrivateKey } from "../../core/index.js";
import { armorSshsig, dearmorSshsig, parseSshsig, signSshsig, verifySshsig } from "../../core/keys/sshsig.js";
import { sshString } from "../../core/keys/ssh-wire.js";
import { sshKeygen, tempDir } from "./support.js";

const { dir, cleanup } = tempDir();
afterAll(cleanup);
const NS = "nixseal-test-v1";
const message = Buffer.from("GET /v1/hosts/web1/bundles/latest\n1733000000\n");

const keys = {
  ed25519: sshKeygen(dir, "ed", "ed25519"),
  rsa: sshKeygen(dir, "rsa", "rsa", { bits: 2048 }),
};

function keygenVerify(pub: string, sigText: string, ns: string, data: Buffer): { status: number | null; out: string } {
  const signers = join(dir, "allowed_signers");
  writeFileSync(signers, `signer@test ${pub}\n`);
  const sigFile = join(dir, "msg.sig");
  writeFileSync(sigFile, sigText);
  const r = spawnSync("ssh-keygen", ["-Y", "verify", "-f", signers, "-I", "signer@test", "-n", ns, "-s", sigFile], { input: data });
  return { status: r.status, out: r.stdout.toString() + r.stderr.toString() };
}

let signed = 0;
function keygenSign(keyPath: string, ns: string, data: Buffer): string {
  const file = join(dir, `data-${++signed}`);
  writeFileSync(file, data);
  const r = spawnSync("ssh-keygen", ["-Y", "sign", "-f", keyPath, "-n", ns, file]);
  expect(r.status, r.stderr.toString()).toBe(0);
  return readFileSync(`${file}.sig`, "utf8");
}

describe.each(["ed25519", "rsa"] as const)("%s", (type) => {
  it("ssh-keygen -Y verify accepts nixseal's signature, and refuses it for another namespace", async () => {
    const key = await parseSshPrivateKey(keys[type].priv);
    const text = armorSshsig(signSshsig(key, NS, message));
    const ok = keygenVerify(keys[type].pub, text, NS, message);
    expect(ok.status, ok.out).toBe(0);
    expect(ok.out).toContain('Good "nixseal-test-v1" signature for signer@test');
    expect(keygenVerify(keys[type].pub, text, "file", message).status).not.toBe(0);
    expect(keygenVerify(keys[type].pub, text, NS, Buffer.concat([message, Buffer.from("x")])).status).not.toBe(0);
  });

  it("nixseal verifies ssh-keygen -Y sign, and refuses another namespace or a changed message", () => {
    const sig = parseSshsig(dearmorSshsig(keygenSign(keys[type].path, NS, message))!)!;
    expect(sig.algorithm).toBe(type === "rsa" ? "rsa-sha2-512" : "ssh-ed25519");
    expect(verifySshsig(sig, NS, message)).toBe("ok");
    expect(verifySshsig(sig, "nixseal-other-v1", message)).toBe("namespace");
    expect(verifySshsig(sig, NS, Buffer.from("GET /v1/hosts/web2/bundles/latest\n1733000000\n"))).toBe("mismatch");
  });
});

it("refuses an ssh-rsa (SHA-1) signature even when it is mathematically valid", async () => {
  const key = await parseSshPrivateKey(keys.rsa.priv);
  if (key.type !== "ssh-rsa") throw new Error("expected rsa");
  const good = parseSshsig(signSshsig(key, NS, message))!;
  // Rebuild the blob with a real SHA-1 RSA signature over the same signed data.
  const data = Buffer.concat([Buffer.from("SSHSIG"), sshString(NS), sshString(""), sshString("sha512"), sshString(createHash("sha512").update(message).digest())]);
  const sha1 = sign("sha1", data, key.privateKey);
  const forged = { ...good, algorithm: "ssh-rsa", signature: sha1 };
  expect(verifySshsig(forged, NS, message)).toBe("algorithm");
});

it("refuses an RSA key under 2048 bits", async () => {
  const small = sshKeygen(dir, "rsa1024", "rsa", { bits: 1024 });
  const sig = parseSshsig(dearmorSshsig(keygenSign(small.path, NS, message))!)!;
  expect(verifySshsig(sig, NS, message)).toBe("weak-key");
});

it("reads no blob that is cut short, too long, or of another version", async () => {
  const key = await parseSshPrivateKey(keys.ed25519.priv);
  const blob = signSshsig(key, NS, message);
  expect(parseSshsig(blob)).toBeDefined();
  for (let n = 0; n < blob.length; n += 7) expect(parseSshsig(blob.subarray(0, n))).toBeUndefined();
  expect(parseSshsig(Buffer.concat([blob, Buffer.from([0])]))).toBeUndefined();
  const v2 = Buffer.from(blob);
  v2.writeUInt32BE(2, 6);
  expect(parseSshsig(v2)).toBeUndefined();
  expect(dearmorSshsig("-----BEGIN SSH SIGNATURE-----\n!!!\n-----END SSH SIGNATURE-----\n")).toBeUndefined();
  expect(dearmorSshsig(armorSshsig(blob))!.equals(blob)).toBe(true);
});

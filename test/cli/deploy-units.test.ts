// The pure parts of deploy: target and host-key parsing, fingerprints (checked against
// ssh-keygen), plan/status diffs, the rebuild command line, the summary line.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NixsealError } from "../../core/index.js";
import { diffSecrets } from "../../cli/deploy/compare.js";
import { diffListings, listingHash } from "../../cli/deploy/config.js";
import { fingerprintOf, parsePinnedHostKey } from "../../cli/deploy/host-key.js";
import { summaryLine } from "../../cli/deploy/progress.js";
import { describeRebuild } from "../../cli/deploy/rebuild.js";
import { shellQuote } from "../../cli/deploy/remote.js";
import { resolveKeyPath } from "../../cli/deploy/hosts.js";
import { isEncryptedKey } from "../../cli/deploy/ssh.js";
import { parseTarget } from "../../cli/deploy/target.js";

function keygen(type: "ed25519" | "rsa"): { pub: string; fingerprint: string } {
  const dir = mkdtempSync(join(tmpdir(), "nixseal-deploy-unit-"));
  try {
    execFileSync("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "2048"] : []), "-N", "", "-f", join(dir, "k")]);
    const pub = readFileSync(join(dir, "k.pub"), "utf8").trim();
    const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", join(dir, "k.pub")], { encoding: "utf8" }).split(" ")[1]!;
    return { pub, fingerprint };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("parseTarget", () => {
  it("reads user@address[:port], IPv6 in brackets", () => {
    expect(parseTarget("root@127.0.1.5", "h")).toEqual({ user: "root", host: "127.0.1.5", port: 22 });
    expect(parseTarget("root@127.0.1.5:2222", "h")).toEqual({ user: "root", host: "127.0.1.5", port: 2222 });
    expect(parseTarget("deploy@[::1]:22", "h")).toEqual({ user: "deploy", host: "::1", port: 22 });
  });
  it.each(["127.0.0.1", "root@", "root@host:0", "root@host:70000", "ro ot@host", "root@a@b"])("refuses %j with a hint", (t) => {
    expect(() => parseTarget(t, "web1")).toThrow(NixsealError);
    try {
      parseTarget(t, "web1");
    } catch (err) {
      expect((err as NixsealError).code).toBe("NIXSEAL_ERR_DEPLOY_TARGET");
      expect((err as NixsealError).hints.join(" ")).toMatch(/nixseal host set web1 --target/);
    }
  });
});

describe("parsePinnedHostKey", () => {
  it("pins ed25519 to ssh-ed25519 and rsa to the rsa-sha2 algorithms; fingerprints match ssh-keygen", () => {
    const ed = keygen("ed25519");
    const k = parsePinnedHostKey(ed.pub, "h");
    expect(k.type).toBe("ssh-ed25519");
    expect(k.algorithms).toEqual(["ssh-ed25519"]);
    expect(fingerprintOf(k.blob)).toBe(ed.fingerprint);
    const rsa = keygen("rsa");
    const r = parsePinnedHostKey(rsa.pub, "h");
    expect(r.algorithms).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
    expect(fingerprintOf(r.blob)).toBe(rsa.fingerprint);
  });
  it("refuses a line whose type and blob disagree, or no key at all", () => {
    const ed = keygen("ed25519").pub.split(" ");
    for (const bad of [`ssh-rsa ${ed[1]}`, "ssh-ed25519", "age1qqqq", "ssh-dss AAAA"]) {
      expect(() => parsePinnedHostKey(bad, "web1")).toThrow(/registered host key is not an SSH public key/);
    }
  });
});

describe("plans and status", () => {
  it("diffs /etc/nixos listings file by file", () => {
    const from = new Map([["a.nix", "1"], ["b.nix", "2"], ["c.nix", "3"]]);
    const to = new Map([["a.nix", "1"], ["b.nix", "22"], ["d.nix", "4"]]);
    expect(diffListings(from, to)).toEqual({ added: ["d.nix"], changed: ["b.nix"], removed: ["c.nix"] });
    expect(listingHash(from)).toBe(listingHash(new Map([...from].reverse())));
    expect(listingHash(from)).not.toBe(listingHash(to));
  });
  it("diffs secrets: missing, version, owner/mode, extra, failing", () => {
    const want = [
      { name: "a", version: 2, owner: "svc", group: "svc", mode: "0400" },
      { name: "b", version: 1, owner: "svc", group: "svc", mode: "0400" },
      { name: "c", version: 1, owner: "root", group: "root", mode: "0400" },
      { name: "e", version: 1, owner: "root", group: "root", mode: "0400" },
    ];
    const status = {
      secrets: [
        { name: "a", version: 1, owner: "svc", group: "svc", mode: "0400" },
        { name: "b", version: 1, owner: "root", group: "svc", mode: "0440" },
        { name: "e", version: 1, owner: "root", group: "root", mode: "400", ok: false, error: "unknown owner" },
        { name: "old", version: 4, owner: "root", group: "root", mode: "0400" },
      ],
    };
    const d = diffSecrets(want, status);
    expect(d.added).toEqual(["c"]);
    expect(d.removed).toEqual(["old"]);
    expect(d.changed.map((c) => [c.name, c.why])).toEqual([
      ["a", "version 1 -> 2"],
      ["b", "owner root -> svc, mode 0440 -> 0400"],
    ]);
    expect(d.unchanged).toEqual(["e"]);
    expect(d.failing).toEqual([{ name: "e", error: "unknown owner" }]);
  });
});

describe("rebuild command", () => {
  it("is flake-aware, passes --upgrade, and honours the host's own command", () => {
    expect(describeRebuild({ hostName: "web1", upgrade: false }, false)).toBe("nixos-rebuild switch");
    expect(describeRebuild({ hostName: "web1", upgrade: true }, true)).toBe("nixos-rebuild switch --flake /etc/nixos#web1 --upgrade");
    expect(describeRebuild({ hostName: "web1", command: "nixos-rebuild boot", upgrade: false }, true)).toBe("nixos-rebuild boot");
  });
  it("quotes remote arguments for sh", () => {
    expect(shellQuote("plain/path-1.2")).toBe("plain/path-1.2");
    expect(shellQuote("it's a b")).toBe(`'it'\\''s a b'`);
    expect(execFileSync("sh", ["-c", `printf %s ${shellQuote("it's $HOME `x` \"q\"")}`], { encoding: "utf8" })).toBe("it's $HOME `x` \"q\"");
  });
});

describe("summary line", () => {
  it("says what was put back after a failure", () => {
    const line = summaryLine({
      host: "web1",
      ok: false,
      outcome: "rolled-back",
      steps: [],
      ms: 10,
      error: { code: "NIXSEAL_ERR_DEPLOY_REBUILD", message: 'host "web1": rebuild failed (exit 1)', hints: [] },
      restored: { config: "restored", secrets: "restored", rebuild: "ok" },
    });
    expect(line).toBe('web1: FAILED: host "web1": rebuild failed (exit 1) [config restored, secrets restored, rebuild on previous config ok]');
  });
});

describe("isEncryptedKey", () => {
  it("tells passphrase-protected OpenSSH keys from plain ones", () => {
    const dir = mkdtempSync(join(tmpdir(), "nixseal-deploy-unit-"));
    try {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "plain")]);
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "pw words", "-f", join(dir, "locked")]);
      expect(isEncryptedKey(readFileSync(join(dir, "plain"), "utf8"))).toBe(false);
      expect(isEncryptedKey(readFileSync(join(dir, "locked"), "utf8"))).toBe(true);
      expect(isEncryptedKey("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("resolveKeyPath", () => {
  it("expands ~/ to HOME and resolves relative paths against the given base", () => {
    const env = { HOME: "/home/alice" };
    expect(resolveKeyPath("~/.ssh/deploy", "/repo", env)).toBe("/home/alice/.ssh/deploy");
    expect(resolveKeyPath("keys/deploy", "/repo", env)).toBe("/repo/keys/deploy");
    expect(resolveKeyPath("/etc/deploy_key", "/repo", env)).toBe("/etc/deploy_key");
    expect(resolveKeyPath(undefined, "/repo", env)).toBeUndefined();
  });
});

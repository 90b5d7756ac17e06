// Activation faults on a real systemd host (inside the machine,
// with the agent's own units, run-nixseal.mount and /run/keys as the host has them):
// SIGKILL of `nixseal-agent activate` at random points (50 trials), a tmpfs too small
// for the next generation, and a symlink planted where the next generation goes.
import { randomBytes } from "node:crypto";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHost, type TestHost } from "./harness/index.js";
import { addSecret, nixsealOk, type TestRepo } from "./fixtures/deploy-env.js";
import { addAccounts, installWithBundle, type AgentSecret } from "./agent-support.js";

const TRIALS = 50;
const NAMES = ["a", "b", "c", "d", "e", "f"];
const valueOf = (gen: string, name: string) => `${gen}-${name}-${randomBytes(12).toString("hex")}`;
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** What /run/keys shows for a generation: name -> "sha256 mode". */
type View = Map<string, string>;

describe("nixseal-agent activation faults on a real systemd host", () => {
  let h: TestHost;
  let repo: TestRepo | undefined;
  const genA: AgentSecret[] = NAMES.map((name) => ({ name, value: valueOf("A", name), owner: "nxs-act", group: "nxs-act", mode: "0400" }));
  const genB = genA.map((s) => ({ ...s, value: valueOf("B", s.name), mode: "0440" }));
  const viewOf = (gen: AgentSecret[]): View => new Map(gen.map((s) => [s.name, `${sha(s.value)} ${s.mode.slice(1)}`]));

  /** `nixseal bundle` of the repo as it is now, copied into the host at dir (ciphertext only). */
  async function shipBundle(dir: string): Promise<void> {
    const local = await mkdtemp(join(tmpdir(), "nixseal-act-bundle-"));
    try {
      await nixsealOk(repo!, ["bundle", h.name, "--out", join(local, "b")]);
      await h.exec(`rm -rf ${dir}`);
      for (const f of readdirSync(join(local, "b"))) await h.writeFile(`${dir}/${f}`, readFileSync(join(local, "b", f)), 0o600);
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  }

  /** /run/keys as the host shows it, plus the run dir's entries. */
  async function shown(): Promise<{ view: View; runDir: string[]; live: string }> {
    const script = `for k in ${NAMES.join(" ")}; do printf '%s %s %s\\n' "$k" "$(sha256sum < /run/keys/$k | cut -c1-64)" "$(stat -L -c %a /run/keys/$k)"; done; echo "live $(readlink /run/nixseal/current)"; ls -A /run/nixseal`;
    const lines = (await h.exec(script)).stdout.trim().split("\n");
    const view: View = new Map();
    for (const l of lines.slice(0, NAMES.length)) {
      const [name, hash, mode] = l.split(" ");
      view.set(name!, `${hash} ${mode}`);
    }
    const live = lines[NAMES.length]!.slice(5);
    return { view, live, runDir: lines.slice(NAMES.length + 1).filter((n) => n !== ".lock").sort() };
  }

  /** Which generation /run/keys shows; fails unless it is one of the two, whole. */
  function whichGeneration(view: View): "A" | "B" {
    const a = viewOf(genA);
    const b = viewOf(genB);
    const same = (x: View) => NAMES.every((n) => view.get(n) === x.get(n));
    if (same(a)) return "A";
    if (same(b)) return "B";
    throw new Error(`/run/keys shows neither generation whole: ${JSON.stringify([...view])}`);
  }

  beforeAll(async () => {
    h = await bootHost("agentact");
    await addAccounts(h, ["nxs-act"]);
    repo = await installWithBundle(h, genA); // generation 1, live
    for (const s of genB) {
      await nixsealOk(repo, ["secrets", "rotate", s.name], { stdin: s.value });
      await nixsealOk(repo, ["secrets", "set", s.name, "--mode", s.mode]);
    }
    await shipBundle("/root/bundle-b");
    const staged = await h.exec("nixseal-agent stage /root/bundle-b");
    expect(staged.stdout + staged.stderr).toMatch(/\b2\b/);
  }, 180_000);
  afterAll(async () => {
    await h?.stop();
    await repo?.cleanup();
  });

  it(`SIGKILL at ${TRIALS} random points of an activation: /run/keys always shows one whole generation`, { timeout: 240_000 }, async () => {
    expect(whichGeneration((await shown()).view)).toBe("A");
    // whole activations, timed inside the host once warm (the first ones are slower); the
    // fastest places the kills across the window (a slow one would put most kills after
    // the activation ended)
    for (const g of [2, 1, 2, 1]) await h.exec(`nixseal-agent activate ${g} >/dev/null`);
    const timed: number[] = [];
    for (const g of [2, 1, 2]) {
      timed.push(Number((await h.exec(`s=$(date +%s%N); nixseal-agent activate ${g} >/dev/null; echo $(( ($(date +%s%N) - s) / 1000 ))`)).stdout.trim()));
    }
    let full = Math.min(...timed);
    expect(full).toBeGreaterThan(0);
    expect(whichGeneration((await shown()).view)).toBe("B");

    const seen = { killed: 0, finished: 0, old: 0, new: 0 };
    let target: 1 | 2 = 1;
    for (let i = 0; i < TRIALS; i++) {
      // a kill point between 10% and 140% of a whole activation: most land inside it,
      // some after it (so both outcomes are seen)
      const delayUs = (0.1 + 1.3 * Math.random()) * full;
      const r = await h.exec(`nixseal-agent activate ${target} >/dev/null 2>&1 & p=$!; sleep ${(delayUs / 1e6).toFixed(4)}; kill -9 $p 2>/dev/null; wait $p; echo $?`, { check: false });
      if (r.stdout.trim() === "137") seen.killed++;
      else {
        seen.finished++;
        full = Math.min(full, delayUs); // it finished within delayUs: a tighter bound on its length
      }
      const gen = whichGeneration((await shown()).view);
      const wanted = target === 1 ? "A" : "B";
      if (gen === wanted) {
        seen.new++;
        target = target === 1 ? 2 : 1;
      } else seen.old++;
    }
    console.log(`activation at most ${Math.round(full)} us; trials: ${JSON.stringify(seen)}`);
    expect(seen.killed, JSON.stringify(seen)).toBeGreaterThanOrEqual(TRIALS / 2);
    expect(seen.old, JSON.stringify(seen)).toBeGreaterThan(0);
    expect(seen.new, JSON.stringify(seen)).toBeGreaterThan(0);

    // afterwards a clean activation works and leaves only the live dir and the link
    await h.exec(`nixseal-agent activate ${target}`);
    const after = await shown();
    expect(whichGeneration(after.view)).toBe(target === 1 ? "A" : "B");
    expect(after.runDir).toEqual([after.live, "current"].sort());
  });

  it("a tmpfs too small for the next generation: a clean error, the live generation untouched", { timeout: 120_000 }, async () => {
    const before = await shown();
    const size = /(?:^|,)size=([^,]+)/.exec((await h.exec("findmnt -no OPTIONS /run/nixseal")).stdout.trim())?.[1];
    await addSecret(repo!, "big", [h.name], randomBytes(400_000).toString("base64"), "nxs-act", "nxs-act", "0400");
    await shipBundle("/root/bundle-big");
    await h.exec("mount -o remount,size=256k /run/nixseal");
    try {
      const r = await h.exec("nixseal-agent import /root/bundle-big", { check: false });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("does not fit; the previous generation stays active");
      expect(r.stderr).toContain("size=");
      const after = await shown();
      expect(after.view).toEqual(before.view);
      expect(after.live).toBe(before.live);
      expect(after.runDir).toEqual(before.runDir);
      expect((await h.exec("test -e /run/keys/big", { check: false })).code).not.toBe(0);
    } finally {
      await h.exec(size ? `mount -o remount,size=${size} /run/nixseal` : "true");
      await nixsealOk(repo!, ["secrets", "rm", "big"]);
    }
  });

  it("a symlink planted where the next generation goes: refused, nothing written through it", { timeout: 120_000 }, async () => {
    const before = await shown();
    const marker = valueOf("planted", "a");
    await nixsealOk(repo!, ["secrets", "rotate", "a"], { stdin: marker });
    await shipBundle("/root/bundle-planted");
    // every number the next generation could take gets a planted link to a root-owned dir
    const last = Number((await h.exec("ls /var/lib/nixseal/generations | sort -n | tail -n 1")).stdout.trim());
    await h.exec(`mkdir -p /root/victim && for n in ${last + 1} ${last + 2}; do ln -sfn /root/victim /run/nixseal/$n; done`);
    try {
      const r = await h.exec("nixseal-agent import /root/bundle-planted", { check: false });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("is a symlink or of the wrong type where the agent writes");
      expect((await h.exec("ls -A /root/victim")).stdout.trim()).toBe("");
      // the value goes to grep on stdin, never on its command line
      expect((await h.exec("grep -rlF -f /dev/stdin /root/victim /run/nixseal /run/keys/ 2>/dev/null || true", { input: marker + "\n" })).stdout.trim()).toBe("");
      const after = await shown();
      expect(after.view).toEqual(before.view);
      expect(after.live).toBe(before.live);
    } finally {
      await h.exec(`rm -f /run/nixseal/${last + 1} /run/nixseal/${last + 2}`);
    }
  });
});

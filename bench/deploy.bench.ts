// Deploy wall time: ten test hosts deployed at once (`nixseal deploy --parallel 10`)
// against ten sequential single-host deploys (`nixseal deploy HOST`, one after the other),
// same hosts, same repo, same run. Each round changes every host's config and rotates a
// secret so both sides do the full work: upload, stage, install, activate, rebuild (the
// nixos-rebuild stand-in on these Debian test hosts). Needs root (it boots 10 test hosts).
import { bootHost, type TestHost } from "../test/hosts/harness/index.js";
import { addHost, addSecret, newRepo, nixsealOk, prepareHost, writeConfig, type TestRepo } from "../test/hosts/fixtures/deploy-env.js";
import { median, type BenchResult } from "./report.js";

const HOSTS = 10;
const ROUNDS = 3;

export async function run(): Promise<BenchResult[]> {
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench deploy: skipped (needs root to boot test hosts)\n");
    return [];
  }
  const hosts: TestHost[] = [];
  let repo: TestRepo | undefined;
  try {
    hosts.push(...(await Promise.all(Array.from({ length: HOSTS }, (_, i) => bootHost(`bench${i + 1}`)))));
    await Promise.all(hosts.map((h) => prepareHost(h, ["svc"])));
    repo = await newRepo();
    for (const h of hosts) {
      await addHost(repo, h);
      await writeConfig(repo, h.name, "initial");
    }
    const names = hosts.map((h) => h.name);
    await addSecret(repo, "shared-token", names, "bench-initial-value", "svc");
    await addSecret(repo, "other-token", names, "bench-other-value", "svc");
    await nixsealOk(repo, ["deploy", "--parallel", String(HOSTS)]); // warm-up: agents have a generation

    let round = 0;
    const change = async () => {
      round++;
      for (const h of hosts) await writeConfig(repo!, h.name, `round ${round}`);
      await nixsealOk(repo!, ["secrets", "rotate", "shared-token", "--generate", "32"]);
    };
    const parallel: number[] = [];
    const sequential: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await change();
      let t0 = performance.now();
      for (const n of names) await nixsealOk(repo, ["deploy", n]);
      sequential.push(performance.now() - t0);
      await change();
      t0 = performance.now();
      await nixsealOk(repo, ["deploy", "--parallel", String(HOSTS)]);
      parallel.push(performance.now() - t0);
    }
    return [
      {
        name: "deploy 10 hosts",
        subject: `nixseal deploy --parallel ${HOSTS} (config + rotated secret + rebuild stand-in per host), median of ${ROUNDS}`,
        baseline: `${HOSTS} sequential single-host deploys`,
        subjectMs: median(parallel),
        baselineMs: median(sequential),
      },
    ];
  } finally {
    await Promise.all(hosts.map((h) => h.stop().catch(() => undefined)));
    await repo?.cleanup();
  }
}

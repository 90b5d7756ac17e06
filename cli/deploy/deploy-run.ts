// nixseal deploy: bundles built up front, then each host's deploy (or its dry-run plan)
// in a pool with the progress view.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { NixsealError } from "../../core/index.js";
import type { CliIo } from "../io.js";
import { printWarning } from "../output.js";
import { hostConfigDir, hostSecretsFor, hostSecretsPath, openRepo, staleHostSecrets } from "../repo/index.js";
import { writeHostBundle } from "./bundle.js";
import { planHost } from "./dry-run.js";
import { deployHost, type DeployFlags, type HostJob } from "./host-deploy.js";
import { finish, hostEntry, resolveKeyPath, type RunOptions, selectHosts, withoutConfig } from "./hosts.js";
import { runAll, viewMode } from "./progress.js";
import { usageError } from "../errors.js";

/** nixseal deploy. */
export async function runDeploy(
  io: CliIo,
  opts: RunOptions & { dryRun: boolean; secretsOnly: boolean; configOnly: boolean; upgrade: boolean },
  seams: Pick<DeployFlags, "onUploadedFile"> = {},
): Promise<number> {
  if (opts.secretsOnly && opts.configOnly) {
    throw usageError("--secrets-only and --config-only exclude each other", ["pick one, or neither to deploy both"]);
  }
  const loaded = await openRepo(io.cwd);
  const names = selectHosts(loaded.repo, opts.hosts);
  const flags: DeployFlags = {
    secrets: !opts.configOnly,
    config: !opts.secretsOnly,
    upgrade: opts.upgrade,
    waitSeconds: opts.waitSeconds,
    sshKey: resolveKeyPath(opts.sshKey, io.cwd, io.env),
    env: io.env,
    ...seams,
  };
  const work = await mkdtemp(join(tmpdir(), "nixseal-deploy-"));
  try {
    // Bundles hold ciphertext only; built up front so a repo problem stops before any host is touched.
    const jobs: (HostJob & { bundle?: Awaited<ReturnType<typeof writeHostBundle>> })[] = [];
    for (const name of names) {
      const job: HostJob & { bundle?: Awaited<ReturnType<typeof writeHostBundle>> } = { name, host: hostEntry(loaded, name, io.env), configDir: hostConfigDir(loaded.dir, loaded.repo, name) };
      if (flags.config && flags.secrets && withoutConfig(job)) {
        job.noConfig = true;
        printWarning(io, `host "${name}" has no config dir (${relative(loaded.dir, job.configDir)}/): deploying its secrets only`);
      }
      if (flags.config && !job.noConfig) {
        // The config is built for what this file says: shipping a stale one would make
        // the host refuse its own secrets (or wire units for secrets it does not get).
        const stale = await staleHostSecrets(loaded.dir, loaded.repo, name);
        if (stale) {
          throw new NixsealError("NIXSEAL_ERR_DEPLOY_STALE_SECRETS_FILE", `host "${name}": ${stale}; the host's NixOS system would be built for other secrets than it gets`, {
            hints: [`run "nixseal host sync ${name}" to rewrite it from nixseal.json, commit it, and deploy again`],
          });
        }
        if (existsSync(hostSecretsPath(loaded.dir, loaded.repo, name))) job.nextSystem = hostSecretsFor(loaded.repo, name).digest;
      }
      if (flags.secrets) {
        job.bundleDir = join(work, name);
        job.bundle = await writeHostBundle(loaded, name, job.bundleDir);
        job.bundleId = job.bundle.id;
      }
      jobs.push(job);
    }
    const mode = viewMode(io, opts.json);
    if (opts.dryRun) {
      const results = await runAll(io, mode, jobs, opts.parallel, (job, sink) => planHost(job, flags, loaded, sink, (l) => {
        if (!opts.json) io.stdout.write(l + "\n");
      }));
      return finish(io, "deploy --dry-run", results, opts.json);
    }
    const results = await runAll(io, mode, jobs, opts.parallel, (job, sink) => deployHost(job, flags, sink));
    return finish(io, "deploy", results, opts.json);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

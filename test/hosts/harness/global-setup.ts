// vitest globalSetup of the "hosts" project: one run id for all workers, the base image
// built before any test starts (so no test times out on the first build), leftovers of
// killed earlier runs removed before and this run's leftovers removed after.
import { ensureBaseImage } from "./image.js";
import { assertRoot } from "./limits.js";
import { runDir } from "./paths.js";
import { ensureRunDir, reapStale } from "./registry.js";

export default async function setup(): Promise<() => Promise<void>> {
  assertRoot();
  const run = `r${Date.now().toString(36)}-${process.pid}`;
  process.env.NIXSEAL_TESTHOST_RUN = run; // inherited by the worker processes
  await reapStale();
  ensureRunDir(runDir(run));
  await ensureBaseImage();
  return async () => {
    await reapStale({ run });
  };
}

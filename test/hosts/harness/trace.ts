// NIXSEAL_TESTHOST_TRACE=1 prints when each step of a boot ends, to find where time goes.
const on = process.env.NIXSEAL_TESTHOST_TRACE === "1";
const t0 = performance.now();

/** Notes that `host` finished `step` (to stderr, only with NIXSEAL_TESTHOST_TRACE=1). */
export function trace(host: string, step: string): void {
  if (on) process.stderr.write(`test hosts: ${(performance.now() - t0).toFixed(0).padStart(7)} ms ${host}: ${step}\n`);
}

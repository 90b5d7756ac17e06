import { afterAll, describe, expect, it } from "vitest";
import { bootHost, stopAll } from "./harness/index.js";

afterAll(async () => {
  await stopAll();
});

describe("test hosts", () => {
  it("boots a machine that runs systemd and answers exec", async () => {
    const a = await bootHost("a");
    const r = await a.exec("systemctl is-system-running; hostname; cat /proc/sys/kernel/random/boot_id; node --version");
    expect(r.stdout.split("\n").slice(0, 3)).toEqual(["running", "a", a.bootId]);
    console.log(r.stdout, a.bootTimesMs);
    await a.stop();
  });
});

import { defineConfig } from "vitest/config";

// Two projects: "unit" runs anywhere in seconds; "hosts" boots real systemd
// machines (root, debootstrap image) and runs one file at a time.
export default defineConfig({
  test: {
    // nix-instantiate warns on stderr when the nixbld group is missing (Debian's nix-bin
    // without nix-setup-systemd); the tests evaluate only and never build.
    env: { NIX_CONFIG: "build-users-group =" },
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/hosts/**", "node_modules/**"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "hosts",
          include: ["test/hosts/**/*.test.ts"],
          // Builds the base image once, removes machines of killed runs before and this
          // run's leftovers after (test/hosts/harness/global-setup.ts).
          globalSetup: ["test/hosts/harness/global-setup.ts"],
          // Worker processes, not threads: a machine dies with the process that booted it
          // (parent-death signal), which for a thread would be the thread's end.
          pool: "forks",
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

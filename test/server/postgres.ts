// A real PostgreSQL cluster of a test's own (Debian's postgresql 15, scripts/setup.sh
// installs it): its data dir in a temp dir the test removes, listening only on a unix
// socket in that dir (no TCP port, nothing shared with the system's service), run as the
// postgres user (PostgreSQL refuses root). The freshly initialised data dir is cached
// under /var/cache/nixseal (initdb takes seconds; a copy takes milliseconds).
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const CACHE = process.env.NIXSEAL_TEST_PG_CACHE ?? "/var/cache/nixseal";

/** The directory of PostgreSQL's server binaries (initdb, pg_ctl), or undefined when it is not installed. */
export function postgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], "bin") : undefined;
}

export interface TestPostgres {
  /** libpq connection string of a fresh database. */
  connectionString: string;
  /** A new empty database on the same cluster; its connection string. */
  createDatabase(name: string): string;
  /** pg_ctl restart -m fast: every connection is dropped. */
  restart(): void;
  stopServer(): void;
  startServer(): void;
  /** Stops the cluster and removes its directory. */
  stop(): void;
}

function asPostgres(bin: string, args: string[]): void {
  execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

function template(bin: string): string {
  const version = bin.split("/").at(-2)!;
  const dir = join(CACHE, `pg-template-${version}`);
  if (existsSync(join(dir, "PG_VERSION"))) return dir;
  mkdirSync(CACHE, { recursive: true });
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { mode: 0o700 });
  execFileSync("chown", ["postgres:postgres", building]);
  asPostgres(join(bin, "initdb"), ["-D", building, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"]);
  try {
    renameSync(building, dir);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another worker won
  }
  return dir;
}

/** Starts a cluster; call stop() in afterAll. */
export function startPostgres(): TestPostgres {
  const bin = postgresBin();
  if (!bin) throw new Error("PostgreSQL is not installed: run bash scripts/setup.sh");
  const root = mkdtempSync(join(tmpdir(), "nixseal-pg-"));
  // The postgres user must reach its dir: a run's private TMPDIR (scripts/test-run.mjs) is
  // 0700; it becomes traversable (not listable) for the run, nothing else changes.
  for (let d = dirname(root); d !== "/" && d !== "/tmp"; d = dirname(d)) {
    const mode = statSync(d).mode & 0o777;
    if ((mode & 0o001) === 0) chmodSync(d, mode | 0o001);
  }
  execFileSync("chown", ["postgres:postgres", root]);
  const data = join(root, "data");
  cpSync(template(bin), data, { recursive: true });
  execFileSync("chown", ["-R", "postgres:postgres", data]);
  const port = String(20000 + (process.pid % 20000));
  const pgCtl = (...args: string[]) => asPostgres(join(bin, "pg_ctl"), ["-D", data, "-w", "-t", "30", ...args]);
  const opts = `-c listen_addresses='' -c unix_socket_directories=${root} -p ${port} -c max_connections=200 -c shared_buffers=32MB`;
  const startServer = () => pgCtl("-o", opts, "-l", join(root, "log"), "start");
  startServer();
  const conn = (db: string) => `host=${root} port=${port} user=postgres dbname=${db}`;
  return {
    connectionString: conn("postgres"),
    createDatabase(name) {
      const r = spawnSync("psql", ["-h", root, "-p", port, "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", `CREATE DATABASE ${name}`], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`createdb ${name}: ${r.stderr}`);
      return conn(name);
    },
    restart: () => pgCtl("-m", "fast", "-o", opts, "-l", join(root, "log"), "restart"),
    stopServer: () => pgCtl("-m", "fast", "stop"),
    startServer,
    stop() {
      try {
        pgCtl("-m", "immediate", "stop");
      } catch {
        // not running
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

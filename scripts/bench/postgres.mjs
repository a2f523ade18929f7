// The Postgres a benchmark writes to. PG=durable (the default): a temporary cluster of the benchmark's own, with the
// server's default durability (fsync, synchronous_commit and full_page_writes on: what a production server runs
// with), its data directory on the real disk (under the repository's .services/, refused on tmpfs), on a free port
// (5449 if free), started with scripts/services.sh's pg-start (initdb and pg_ctl as the postgres user) and stopped and
// removed at exit, on SIGINT and SIGTERM. PG=test: DATABASE_URL as it is — the test suite's server, which
// scripts/services.sh starts with fsync=off and full_page_writes=off (cheap commits no production server has).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const repo = new URL("../../", import.meta.url).pathname;
const services = join(repo, "scripts/services.sh");

/** PG=durable|test (default durable); anything else is refused. */
export const PG_MODE = process.env.PG ?? "durable";
if (PG_MODE !== "durable" && PG_MODE !== "test") {
  console.error(`PG must be durable or test, not ${PG_MODE}`);
  process.exit(2);
}

/**
 * The database URL to benchmark against: with PG=durable a temporary cluster started here (server arguments
 * `serverArgs`, e.g. ["-c", "autovacuum=off"]); with PG=test `testUrl`. Call it before pinning this process to a core:
 * the cluster inherits its CPU affinity.
 */
export async function benchPostgres(testUrl, serverArgs = []) {
  if (PG_MODE === "test") return { url: testUrl, mode: "test" };
  const parent = join(repo, ".services");
  mkdirSync(parent, { recursive: true });
  const data = mkdtempSync(join(parent, "bench-pg-"));
  const filesystem = execFileSync("stat", ["-f", "-c", "%T", data], { encoding: "utf8" }).trim();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      execFileSync("bash", [services, "pg-stop", data], { stdio: "ignore" });
    } catch {
      // not running
    }
    rmSync(data, { recursive: true, force: true });
  };
  process.once("exit", stop);
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
  if (filesystem === "tmpfs" || filesystem === "ramfs") {
    stop();
    throw new Error(`${data} is on ${filesystem}: a durable Postgres needs a real disk`);
  }
  const port = (await portFree(5449)) ? 5449 : await freePort();
  execFileSync("bash", [services, "pg-start", data, String(port), ...serverArgs], { stdio: ["ignore", "ignore", "inherit"] });
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, mode: "durable", data, filesystem, stop };
}

/** One line: the settings that decide what a commit costs, and the file system of the data directory. */
export async function describePostgres(pool) {
  const { rows } = await pool.query(
    `SELECT name, setting, unit FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'max_wal_size', 'data_directory') ORDER BY name`,
  );
  const get = (name) => rows.find((r) => r.name === name);
  const size = (r) => (r.unit === "8kB" ? `${(Number(r.setting) * 8) / 1024} MB` : `${r.setting} ${r.unit ?? ""}`.trim());
  let filesystem = "?";
  try {
    filesystem = execFileSync("stat", ["-f", "-c", "%T", get("data_directory").setting], { encoding: "utf8" }).trim();
  } catch {
    // not on this machine
  }
  const version = (await pool.query("SHOW server_version")).rows[0].server_version;
  return `Postgres ${version} (PG=${PG_MODE}): fsync=${get("fsync").setting} synchronous_commit=${get("synchronous_commit").setting} full_page_writes=${get("full_page_writes").setting} wal_sync_method=${get("wal_sync_method").setting} shared_buffers=${size(get("shared_buffers"))} max_wal_size=${size(get("max_wal_size"))}; data on ${filesystem} (${get("data_directory").setting})`;
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A TCP port free on 127.0.0.1 now. */
export async function freePort() {
  const s = createServer();
  await new Promise((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

// Benchmark: reclaim's cdn-urls backfill vs one `UPDATE ... SET url = regexp_replace(...)` statement on a table of
// ROWS rows (url text + meta jsonb, 70 % on the CDN hosts) while a separate client updates random rows of the same
// table continuously. Prints total time, the ratio, the writer's p50/p99/max latency during each, and our peak RSS.
// Build first (`pnpm build` or `npx tsc -b`); needs DATABASE_URL. ROWS (default 1,000,000), ROUNDS (default 1),
// BATCH_TARGET (default "200ms").
import { fork, spawnSync } from "node:child_process";
import { once } from "node:events";
import { loadavg } from "node:os";
import pg from "pg";
import { reclaimNodeFlags as cliFlags } from "../../../scripts/bench/reclaim_flags.mjs";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5439/postgres";
const ROWS = Number(process.env.ROWS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const schema = `cdn_bench_${process.pid}`;
const pool = new pg.Pool({ connectionString: url, max: 2 });
const hosts = ["cdn.example.ai", "cdn-dev.example.ai"];
const here = new URL(".", import.meta.url);
// Ours runs with the node flags `reclaim` runs with: those of the CLI's shebang (packages/cli/main.ts).

async function createTable(name) {
  await pool.query(`DROP TABLE IF EXISTS ${schema}.${name}`);
  await pool.query(`
    CREATE TABLE ${schema}.${name} AS
    SELECT i::bigint AS id,
           CASE WHEN i % 10 < 4 THEN 'https://cdn.example.ai/generations/' || md5(i::text) || '/image.png'
                WHEN i % 10 < 7 THEN 'https://cdn-dev.example.ai/generations/' || md5(i::text) || '/image.png?w=512'
                WHEN i % 10 < 9 THEN '/generations/' || md5(i::text) || '/image.png'
                ELSE 'https://other.example.com/' || i END AS url,
           jsonb_build_object('image', CASE WHEN i % 10 < 7 THEN 'https://cdn.example.ai/g/' || i || '.png' ELSE '/g/' || i || '.png' END,
                              'thumbs', jsonb_build_array('https://cdn-dev.example.ai/t/' || i || '.webp'), 'n', i) AS meta,
           0 AS hits
      FROM generate_series(1, ${ROWS}) i`);
  await pool.query(`ALTER TABLE ${schema}.${name} ADD PRIMARY KEY (id)`);
  await pool.query(`VACUUM ANALYZE ${schema}.${name}`);
}

async function withWriter(relation, work) {
  const writer = fork(new URL("./_writer.mjs", here), [url, relation, String(ROWS)]);
  await once(writer, "message");
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  writer.send("stop");
  const [stats] = await once(writer, "message");
  await once(writer, "exit");
  return { ms, writer: stats };
}

const HOST_RE = "(cdn\\.example\\.ai|cdn-dev\\.example\\.ai)";
async function baseline(name) {
  return withWriter(`${schema}.${name}`, async () => {
    await pool.query(
      `UPDATE ${schema}.${name}
          SET url = regexp_replace(url, '^(https?:)?//${HOST_RE}(:[0-9]+)?', '', 'i'),
              meta = regexp_replace(meta::text, '"(https?:)?//${HOST_RE}(:[0-9]+)?/', '"/', 'gi')::jsonb
        WHERE url ~* '^(https?:)?//${HOST_RE}' OR meta::text ~* '//${HOST_RE}'`,
    );
  });
}

async function ours(name) {
  let out;
  const result = await withWriter(`${schema}.${name}`, async () => {
    const options = {
      hosts,
      columns: [{ table: `${schema}.${name}`, column: "url" }, { table: `${schema}.${name}`, column: "meta" }],
      progressTable: `${schema}.progress_${name}`,
      ...(process.env.BATCH_TARGET ? { batchTarget: process.env.BATCH_TARGET } : {}),
    };
    const child = spawnSync(process.execPath, [...cliFlags, new URL("./_ours.mjs", here).pathname, url, JSON.stringify(options)], { encoding: "utf8", maxBuffer: 1 << 24 });
    if (child.status !== 0) throw new Error(child.stderr);
    out = JSON.parse(child.stdout);
  });
  return { ...result, ms: out.ms, maxRssMiB: out.maxRssMiB, report: out.report };
}

async function check(name) {
  const { rows } = await pool.query(`SELECT count(*) FILTER (WHERE url ~* '^(https?:)?//${HOST_RE}')::int AS url, count(*) FILTER (WHERE meta::text ~* '//${HOST_RE}')::int AS meta FROM ${schema}.${name}`);
  return rows[0];
}

const fmt = (n) => n.toFixed(1);
await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
try {
  console.log(`ours with node ${cliFlags.join(" ")} (as reclaim runs)`);
  console.log(`rows ${ROWS}, rounds ${ROUNDS}, load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  for (let round = 1; round <= ROUNDS; round++) {
    await createTable("a");
    const a = await ours("a");
    console.log(`round ${round} ours:     ${fmt(a.ms / 1000)} s; writer ${a.writer.count} updates, p50 ${fmt(a.writer.p50)} ms, p99 ${fmt(a.writer.p99)} ms, max ${fmt(a.writer.max)} ms; peak RSS ${fmt(a.maxRssMiB)} MiB; left ${JSON.stringify(await check("a"))}; ${JSON.stringify(a.report)}; load ${loadavg()[0].toFixed(2)}`);
    await pool.query(`DROP TABLE ${schema}.a`);
    await createTable("b");
    const b = await baseline("b");
    console.log(`round ${round} baseline: ${fmt(b.ms / 1000)} s; writer ${b.writer.count} updates, p50 ${fmt(b.writer.p50)} ms, p99 ${fmt(b.writer.p99)} ms, max ${fmt(b.writer.max)} ms; left ${JSON.stringify(await check("b"))}; load ${loadavg()[0].toFixed(2)}`);
    await pool.query(`DROP TABLE ${schema}.b`);
    console.log(`round ${round} ratio ours/baseline: ${(a.ms / b.ms).toFixed(2)}x`);
  }
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
}

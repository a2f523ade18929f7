import { createServer } from "node:http";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { UsageError, type CommandContext } from "@reclaim/core";
import { tempDir, testHookEnvironment } from "@reclaim/core/testing";
import { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { progressReporter } from "./_report_output.ts";
import { assetOptions, contentOf, createAssets, testPool, uniqueSchema } from "./_test_fixture.ts";
import { cdnUrlsDefinition } from "./definition.ts";
import { cdnUrlsOptions } from "./options.ts";

const pool = testPool();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

/** Runs `reclaim <argv>` with only this package's verbs, on one cdn-urls instance with `options`. */
async function verb(argv: string[], options: Record<string, unknown> | undefined, cwd = process.cwd()) {
  let stdout = "";
  let stderr = "";
  let code = 0;
  const cli: CommandContext = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env: { RECLAIM_PROGRESS: "log" },
    cwd,
    exit: (value) => void (code = value),
    instances: async () => (options ? [{ name: "cdn-urls", options: cdnUrlsOptions.parse(options), env: testHookEnvironment({ postgres: async () => pool }) }] : []),
  };
  const program = new Command().exitOverride();
  cdnUrlsDefinition.commands?.(program, cli);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof UsageError) return { code: 2, stdout, stderr: `${stderr}reclaim: ${err.message}\n` };
    throw err;
  }
  return { code, stdout, stderr };
}

async function fixture(prefix: string, rows: number): Promise<string> {
  const schema = uniqueSchema(prefix);
  schemas.push(schema);
  await createAssets(pool, schema, rows);
  return schema;
}

describe("reclaim backfill cdn-urls", () => {
  it("prints progress lines off a terminal and a summary table, and --verify then finds no old host", async () => {
    const schema = await fixture("verb", 400);
    const before = await verb(["backfill", "cdn-urls", "--verify"], assetOptions(schema));
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(new RegExp(`${schema}\\.assets\\.url\\s+400\\s+280\\s+280`));
    expect(before.stdout).toContain("verify: 1360 row(s) still hold an old host");

    const run = await verb(["backfill", "cdn-urls"], assetOptions(schema, { initialBatchSize: 100 }));
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`cdn-urls: ${schema}\\.assets\\.url\\+name\\+meta\\+doc: \\d+ of ~\\d+ rows`));
    expect(run.stdout).toMatch(/^column\s+kind\s+scanned\s+rewritten\s+values\s+total\s+batches\s+retries\s+seconds$/m);
    expect(run.stdout).toMatch(new RegExp(`^${schema}\\.assets\\.url\\s+text\\s+400\\s+280\\s+280\\s+280\\s+\\d+\\s+0`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^${schema}\\.assets\\.meta\\s+jsonb\\s+400\\s+400\\s+\\d+`, "m"));

    const after = await verb(["backfill", "cdn-urls", "--verify"], assetOptions(schema));
    expect(after.code).toBe(0);
    expect(after.stdout).toContain("verify: no value holds an old host");
  });

  it("with --dry-run prints counts per column and samples of before → after, and changes nothing", async () => {
    const schema = await fixture("verbdry", 100);
    const content = await contentOf(pool, schema);
    const { code, stdout } = await verb(["backfill", "cdn-urls", "--dry-run", "--sample", "2"], assetOptions(schema));
    expect(code).toBe(0);
    expect(stdout).toMatch(/would change/);
    expect(stdout).toContain("1: //CDN-DEV.example.ai/generations/1/a%20b.png?w=64#top\n     → /generations/1/a%20b.png?w=64#top");
    expect(stdout).toContain("dry run: nothing was changed");
    expect(await contentOf(pool, schema)).toEqual(content);
  });

  it("exits 2 naming a column of the wrong type before writing anything", async () => {
    const schema = await fixture("verbbad", 30);
    const content = await contentOf(pool, schema);
    const options = assetOptions(schema);
    (options.columns as unknown[]).push({ table: `${schema}.assets`, column: "n" });
    const { code, stderr } = await verb(["backfill", "cdn-urls"], options);
    expect(code).toBe(2);
    expect(stderr).toBe(`reclaim: cdn-urls: column ${schema}.assets.n is integer: only text, varchar, json and jsonb columns can be cleaned\n`);
    expect(await contentOf(pool, schema)).toEqual(content);
  });

  it("exits 2 when the config has no cdn-urls hook", async () => {
    const { code, stderr } = await verb(["backfill", "cdn-urls"], undefined);
    expect(code).toBe(2);
    expect(stderr).toContain('the config has no "cdn-urls" hook');
  });

  it("with --check-urls sends HEAD for a sample of stored paths on the base and reports those that do not answer 200", async () => {
    const schema = await fixture("verbcheck", 40);
    await verb(["backfill", "cdn-urls"], assetOptions(schema));
    const seen: string[] = [];
    let missing = "/video.mp4";
    const server = createServer((request, response) => {
      seen.push(`${request.method} ${request.url}`);
      response.writeHead(request.url?.includes(missing) ? 404 : 200).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      const { code, stdout } = await verb(["backfill", "cdn-urls", "--check-urls", base, "--sample", "100"], assetOptions(schema, { columns: [{ table: `${schema}.assets`, column: "url" }] }));
      expect(seen.length).toBeGreaterThan(10);
      expect(seen.every((line) => line.startsWith("HEAD /"))).toBe(true);
      expect(code).toBe(1);
      expect(stdout).toMatch(/ {2}404 {2}http:\/\/127\.0\.0\.1:\d+\/generations\/\d+\/video\.mp4/);
      expect(stdout).toMatch(/check-urls: \d+ of \d+ sampled path\(s\) answer 200/);
      missing = "nothing is missing";
      const ok = await verb(["backfill", "cdn-urls", "--check-urls", base], assetOptions(schema, { columns: [{ table: `${schema}.assets`, column: "meta" }] }));
      expect(seen.some((line) => line.includes("/already.png"))).toBe(true);
      expect(ok.stdout).toMatch(/check-urls: (\d+) of \1 sampled path\(s\) answer 200/);
    } finally {
      server.close();
    }
  });
});

describe("reclaim cdn-urls scan", () => {
  it("lists files and lines that hard-code the hosts, skips what .gitignore ignores, and exits 1", async () => {
    await using dir = await tempDir("cdn-scan-");
    await mkdir(join(dir.path, "lib"));
    await mkdir(join(dir.path, "dist"));
    await writeFile(join(dir.path, ".gitignore"), "dist/\n*.log\n");
    await writeFile(join(dir.path, "next.config.js"), "module.exports = {\n  images: { domains: ['cdn.example.ai', 'CDN-DEV.example.ai'] },\n};\n");
    await writeFile(join(dir.path, "lib", "loader.ts"), "const a = 1;\nconst b = 2;\nexport const base = `https://cdn-dev.example.ai/${path}`;\n");
    await writeFile(join(dir.path, "lib", "ok.ts"), "const host = 'mycdn.example.ai.other';\nconst x = 'notcdn.example.ai';\n");
    await writeFile(join(dir.path, "dist", "bundle.js"), "fetch('https://cdn.example.ai/x')\n");
    await writeFile(join(dir.path, "debug.log"), "https://cdn.example.ai/x\n");
    const { code, stdout } = await verb(["cdn-urls", "scan", dir.path, "--host", "cdn.example.ai", "--host", "cdn-dev.example.ai"], undefined);
    expect(code).toBe(1);
    expect(stdout).toBe(
      "lib/loader.ts:3: export const base = `https://cdn-dev.example.ai/${path}`;\n" +
        "next.config.js:2: images: { domains: ['cdn.example.ai', 'CDN-DEV.example.ai'] },\n" +
        "2 line(s) in 2 file(s) hard-code cdn.example.ai, cdn-dev.example.ai\n",
    );
    const clean = await verb(["cdn-urls", "scan", join(dir.path, "dist"), "--host", "other.example.ai"], undefined);
    expect(clean.code).toBe(0);
    expect((await verb(["cdn-urls", "scan", join(dir.path, "nope"), "--host", "x.ai"], undefined)).code).toBe(2);
  });
});

describe("progressReporter()", () => {
  it("draws a cli-progress bar with rows, total, rate and ETA on a terminal", () => {
    let out = "";
    const stream = new Writable({ write(chunk, _encoding, callback) { out += String(chunk); callback(); } });
    let t = 0;
    const reporter = progressReporter({ tty: true, stream, log: () => undefined, now: () => t });
    reporter.update({ column: "flat_file.url", done: 0, estimated: 1000, rewritten: 0, batchSize: 100 });
    t = 1000;
    reporter.update({ column: "flat_file.url", done: 500, estimated: 1000, rewritten: 350, batchSize: 100 });
    reporter.stop();
    expect(out).toContain("flat_file.url |");
    expect(out).toMatch(/500\/1000 rows \| 350 rewritten \| 500 rows\/s \| ETA/);
  });
});

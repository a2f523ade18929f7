import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { databaseUrl, freePort, redisUrl, tempDir } from "@reclaim/core/testing";
import { Redis } from "ioredis";
import pg from "pg";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reclaim } from "./_test_cli.ts";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "console-test-token-0123456789";
const SCREENSHOT = fileURLToPath(new URL("../../.vitest/console.png", import.meta.url));

/** Bytes as the console shows them (B below 1 KiB, else KiB with one decimal: the sizes in this test). */
const shown = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);

let browser: Browser | undefined;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
afterAll(async () => {
  await browser?.close();
});

describe("the console (the exporter's /) in a real Chromium", () => {
  it("renders every hook with its figures, updates after a pass without a reload, shows a failing hook's error, and runs a pass only with the token", async (ctx) => {
    if (!browser) return ctx.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    await using dir = await tempDir("cli-console-");
    await writeFile(join(dir.path, "app.jsonl"), Array.from({ length: 300 }, (_, i) => `{"n":${i},"pad":"${"x".repeat(40)}"}\n`).join(""));
    execFileSync("sqlite3", [join(dir.path, "jobs.db"), "CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT, created_at INTEGER); INSERT INTO jobs VALUES (1, 'done', 0);"]);
    await mkdir(join(dir.path, "not-a-file.jsonl")); // a folder where a log should be: every pass fails
    await mkdir(join(dir.path, "data", "images"), { recursive: true });
    const port = await freePort();
    const offloadSchema = `console_${randomBytes(4).toString("hex")}`; // on the shared test Postgres, dropped at the end
    await writeFile(
      join(dir.path, "reclaim.config.json"),
      JSON.stringify({
        exporter: { port, token: TOKEN },
        hooks: {
          "app-log": { type: "event-log", path: "app.jsonl", maxBytes: "8KiB", keepLines: 20, initialDelay: "1h" },
          media: { type: "disk", root: "data", audit: { atStart: false }, initialDelay: 0, interval: "1h" },
          "jobs-db": { type: "sqlite-compactor", path: "jobs.db", initialDelay: 0, interval: "1h", tables: [{ table: "jobs", terminal: ["done"], maxAge: "1d" }] },
          "broken-log": { type: "event-log", path: "not-a-file.jsonl", maxBytes: 10, initialDelay: 0, interval: "1h" },
          offload: {
            type: "redis-offload", schema: offloadSchema, initialDelay: 0, interval: "1h", redis: { url: redisUrl }, postgres: { url: databaseUrl },
            sources: [{ match: `${offloadSchema}:*`, kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d" }],
          },
        },
      }),
    );
    const controller = new AbortController();
    const daemon = reclaim(["start"], { cwd: dir.path, signal: controller.signal });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await expect.poll(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false), { timeout: 30_000 }).toBe(true);
      await page.goto(`http://127.0.0.1:${port}/`);
      const card = (hook: string) => page.locator(`section.card[data-hook="${hook}"]`);

      // Every configured hook, with its resource figures.
      for (const hook of ["app-log", "media", "jobs-db", "broken-log", "offload"]) await card(hook).waitFor({ timeout: 30_000 });
      await expect.poll(() => card("app-log").locator(".figure[data-label='log size'] .value").textContent()).toBe(`${shown(statSync(join(dir.path, "app.jsonl")).size)} / 8.0 KiB`);
      await expect.poll(() => card("media").locator(".figure[data-label='data used'] .mark").count()).toBe(2);
      await expect.poll(() => card("jobs-db").locator(".figure .value").first().textContent(), { timeout: 30_000 }).toMatch(/KiB$/);
      await expect.poll(() => card("jobs-db").locator(".figure[data-label='free pages']").count()).toBe(1);
      await expect.poll(() => card("offload").locator(".figure[data-label='archive rows (completed)'] .value").textContent(), { timeout: 30_000 }).toBe("0");
      expect(await card("offload").locator(".figure[data-label='archive payload (completed)'] .value").textContent()).toBe("0 B");
      expect(await card("offload").locator(".figure[data-label='offload lag past hotFor (completed)'] .value").textContent()).toBe("0 s");

      // A failing hook stands out with its error.
      await expect.poll(() => card("broken-log").getAttribute("class"), { timeout: 30_000 }).toContain("failing");
      expect(await card("broken-log").locator(".error").textContent()).toBe("EISDIR: illegal operation on a directory, read");
      expect(await card("app-log").getAttribute("class")).not.toContain("failing");

      // "Run now" without a token and with a wrong one does nothing; with the token it runs a pass, and the page
      // shows its outcome and the smaller log without a reload.
      expect(await card("app-log").locator("rect.pass").count()).toBe(0);
      await card("app-log").locator("button.run").click();
      await expect.poll(() => card("app-log").locator(".message").textContent()).toBe("type the token first");
      await page.fill("#token", "a-wrong-token-of-some-length");
      await card("app-log").locator("button.run").click();
      await expect.poll(() => card("app-log").locator(".message").textContent()).toBe("token refused");
      expect(await card("app-log").locator("rect.pass").count()).toBe(0);
      await page.fill("#token", TOKEN);
      await card("app-log").locator("button.run").click();
      await expect.poll(() => card("app-log").locator(".message").textContent()).toBe("pass success");
      await expect.poll(() => card("app-log").locator("rect.pass.success").count()).toBe(1);
      await expect.poll(() => card("app-log").locator(".figure[data-label='log size'] .value").textContent()).toBe(`${shown(statSync(join(dir.path, "app.jsonl")).size)} / 8.0 KiB`);
      expect(page.url()).toBe(`http://127.0.0.1:${port}/`);

      await mkdir(join(SCREENSHOT, ".."), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } finally {
      await page.close();
      controller.abort();
      execFileSync("psql", [databaseUrl, "-q", "-c", `DROP SCHEMA IF EXISTS "${offloadSchema}" CASCADE`]);
    }
    expect((await daemon).code).toBe(0);
  });

  it("draws the store hooks' resources: Redis memory and keys without TTL, backfill progress", async (ctx) => {
    if (!browser) return ctx.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    await using dir = await tempDir("cli-console-stores-");
    const prefix = `console${process.pid}`;
    const redis = new Redis(redisUrl);
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    const port = await freePort();
    const controller = new AbortController();
    let daemon: ReturnType<typeof reclaim> | undefined;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await redis.mset(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`${prefix}:hb:${i}`, "1"])));
      await pool.query(`DROP SCHEMA IF EXISTS ${prefix} CASCADE; CREATE SCHEMA ${prefix};
        CREATE TABLE ${prefix}.flat_file (id bigint PRIMARY KEY, url text);
        INSERT INTO ${prefix}.flat_file SELECT i, 'https://cdn.example.ai/generations/' || i || '.png' FROM generate_series(1, 12) i`);
      await writeFile(
        join(dir.path, "reclaim.config.json"),
        JSON.stringify({
          exporter: { port, token: TOKEN },
          redis: { url: redisUrl },
          postgres: { url: databaseUrl },
          hooks: {
            "jobs-redis": { type: "redis-ttl", policies: [{ match: `${prefix}:hb:*`, ttl: "5m" }], initialDelay: 0, interval: "1h" },
            "asset-urls": { type: "cdn-urls", hosts: ["cdn.example.ai"], columns: [{ table: `${prefix}.flat_file`, column: "url" }], progressTable: `${prefix}.progress`, initialDelay: 0, interval: "1h" },
          },
        }),
      );
      daemon = reclaim(["start"], { cwd: dir.path, signal: controller.signal });
      await expect.poll(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false), { timeout: 30_000 }).toBe(true);
      await page.goto(`http://127.0.0.1:${port}/`);
      const figure = (hook: string, label: string) => page.locator(`section.card[data-hook="${hook}"] .figure[data-label="${label}"]`);

      // Redis: its memory (a number: no maxmemory on the test Redis) and the 30 heartbeats the scan found without a TTL.
      await expect.poll(() => figure("jobs-redis", "Redis memory").locator(".value").textContent(), { timeout: 30_000 }).toMatch(/^[\d.]+ (KiB|MiB|GiB)$/);
      await expect.poll(() => figure("jobs-redis", "keys without TTL (last scan)").locator(".value").textContent()).toBe("30");
      // The backfill: 12 values rewritten of 12 (a full bar), none left on the old host.
      await expect.poll(() => figure("asset-urls", "values rewritten since start").locator(".value").textContent(), { timeout: 30_000 }).toBe("12 / 12");
      expect(await figure("asset-urls", `${prefix}.flat_file: values still on old hosts`).locator(".value").textContent()).toBe("0");

      await mkdir(join(SCREENSHOT, ".."), { recursive: true });
      await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, "-stores.png"), fullPage: true });
    } finally {
      await page.close();
      controller.abort();
      if (daemon) expect((await daemon).code).toBe(0);
      await redis.del(...Array.from({ length: 30 }, (_, i) => `${prefix}:hb:${i}`));
      redis.disconnect();
      await pool.query(`DROP SCHEMA IF EXISTS ${prefix} CASCADE`);
      await pool.end();
    }
  });
});

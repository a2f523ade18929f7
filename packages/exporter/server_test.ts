import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunner, gauge, type Runner } from "@reclaim/core";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExporter } from "./server.ts";

const TOKEN = "s3cret-token-for-tests-0123456789";

async function serve(options: { token?: string } = {}) {
  const registry = new Registry();
  let passes = 0;
  const runner = createRunner(
    {
      name: "event-log",
      spanName: "rotate event-log",
      kind: "line",
      run: async () => {
        passes++;
        return { removed: 10, reclaimedBytes: 2_500 };
      },
      status: () => ({ fileBytes: 123 }),
    },
    { registry, enabled: true },
  );
  gauge(registry, { name: "reclaim_event_log_bytes", help: "Size of the event log in bytes." }).set(123);
  const app = createExporter({
    registry,
    runners: [runner],
    rpc: { "system.compactor_status": () => ({ lastRun: null }) },
    info: { version: "test" },
    ...options,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const base = typeof address === "object" && address ? `http://127.0.0.1:${address.port}` : "";
  return { app, base, runner, passes: () => passes };
}

describe("createExporter()", () => {
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    server = await serve({ token: TOKEN });
  });
  afterAll(async () => {
    await server.app.close();
  });

  it("serves the registry on GET /metrics in the Prometheus text format", async () => {
    await server.runner.runOnce();
    const response = await fetch(`${server.base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('reclaim_hook_runs_total{hook="event-log",outcome="success"}');
    expect(text).toContain('reclaim_removed_total{hook="event-log",kind="line"} 10');
    expect(text).toContain("reclaim_event_log_bytes 123");
  });

  it("produces reclaim_* families that pass `promtool check metrics`", async (ctx) => {
    let promtool = "promtool";
    try {
      execFileSync(promtool, ["--version"], { stdio: "pipe" });
    } catch {
      return ctx.skip("promtool is not installed (apt-get install prometheus)");
    }
    const text = await (await fetch(`${server.base}/metrics`)).text();
    const ours = keepFamilies(text, "reclaim_");
    const file = join(mkdtempSync(join(tmpdir(), "promtool-")), "metrics.txt");
    writeFileSync(file, ours);
    const output = execFileSync("sh", ["-c", `${promtool} check metrics < ${file} 2>&1; echo "exit=$?"`], { encoding: "utf8" });
    expect(output.trim()).toBe("exit=0");
  });

  it("answers GET /healthz", async () => {
    const response = await fetch(`${server.base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok" });
  });

  it("serves every runner's status on GET /status", async () => {
    const body = (await (await fetch(`${server.base}/status`)).json()) as { version: string; hooks: Array<Record<string, unknown>> };
    expect(body.version).toBe("test");
    expect(body.hooks).toHaveLength(1);
    expect(body.hooks[0]).toMatchObject({ hook: "event-log", enabled: true, details: { fileBytes: 123 } });
  });

  it("serves a status page on GET /", async () => {
    const response = await fetch(`${server.base}/`);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(await response.text()).toContain("<title>reclaim console</title>");
  });

  it("runs a pass on POST /hooks/:name/run with the right bearer token", async () => {
    const before = server.passes();
    const response = await fetch(`${server.base}/hooks/event-log/run`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ outcome: "success", report: { removed: 10 } });
    expect(server.passes()).toBe(before + 1);
  });

  it.each([
    ["no header", undefined],
    ["a wrong token", `Bearer ${TOKEN.slice(0, -1)}x`],
    ["a token of another length", "Bearer short"],
    ["another scheme", `Basic ${TOKEN}`],
  ])("refuses POST /hooks/:name/run with %s (401) and runs nothing", async (_label, header) => {
    const before = server.passes();
    const response = await fetch(`${server.base}/hooks/event-log/run`, { method: "POST", headers: header ? { authorization: header } : {} });
    expect(response.status).toBe(401);
    expect(server.passes()).toBe(before);
  });

  it("answers 404 for an unknown hook, naming the known ones", async () => {
    const response = await fetch(`${server.base}/hooks/nope/run`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ hooks: ["event-log"] });
  });

  it("serves JSON-RPC 2.0 methods on POST /rpc, with standard errors", async () => {
    const call = async (body: string) =>
      (await fetch(`${server.base}/rpc`, { method: "POST", headers: { "content-type": "application/json" }, body })).json();
    expect(await call(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.compactor_status" }))).toEqual({ jsonrpc: "2.0", id: 1, result: { lastRun: null } });
    expect(await call(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "nope" }))).toMatchObject({ id: 2, error: { code: -32601 } });
    expect(await call(JSON.stringify({ id: 3, method: "system.compactor_status" }))).toMatchObject({ id: 3, error: { code: -32600 } });
    expect(await call("{not json")).toMatchObject({ id: null, error: { code: -32700 } });
    expect(await call(JSON.stringify([{ jsonrpc: "2.0", id: 4, method: "system.compactor_status" }]))).toEqual([{ jsonrpc: "2.0", id: 4, result: { lastRun: null } }]);
  });
});

describe("createExporter() without a token", () => {
  it("turns the run endpoint off (404) so nothing can change state", async () => {
    const server = await serve();
    try {
      const response = await fetch(`${server.base}/hooks/event-log/run`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: string }).error).toMatch(/no token is configured/);
      expect(server.passes()).toBe(0);
    } finally {
      await server.app.close();
    }
  });
});

/** Keeps the HELP/TYPE/sample lines of the metric families whose names start with `prefix`. */
function keepFamilies(text: string, prefix: string): string {
  return text
    .split("\n")
    .filter((line) => {
      const name = line.startsWith("# ") ? line.split(" ")[2] : line.split(/[{ ]/)[0];
      return name?.startsWith(prefix);
    })
    .join("\n")
    .concat("\n");
}

export type { Runner };

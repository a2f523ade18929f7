import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, tempDir } from "@reclaim/core/testing";
import { describe, expect, it, vi } from "vitest";
import { reclaim } from "./_test_cli.ts";

const BIN = fileURLToPath(new URL("./dist/main.js", import.meta.url));

describe("reclaim start", () => {
  it.each(["SIGTERM", "SIGINT"] as const)("serves the embedded default on 127.0.0.1 and stops cleanly on %s", async (signal) => {
    expect(existsSync(BIN), "packages/cli/dist/main.js is missing: run `pnpm build` first").toBe(true);
    await using dir = await tempDir("cli-start-");
    await mkdir(join(dir.path, ".data", "images"), { recursive: true });
    await writeFile(join(dir.path, ".data", "events.jsonl"), '{"n":1}\n');
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, "start"], {
      cwd: dir.path,
      env: { ...process.env, RECLAIM_PORT: String(port), RECLAIM_INITIAL_DELAY: "100ms", RECLAIM_INTERVAL: "1h", DOCKER_HOST: "", RECLAIM_DOCKER: "off" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      const poll = { timeout: 30_000, interval: 50 };
      const readStatus = async () => {
        const response = await fetch(`${base}/status`);
        if (!response.ok) throw new Error(`GET /status answered ${response.status}`);
        return (await response.json()) as { hooks: Array<{ hook: string; lastRun: unknown }> };
      };
      const status = await vi.waitFor(readStatus, poll);
      const names = status.hooks.map((hook) => hook.hook);
      expect(names).toEqual(expect.arrayContaining(["event-log", "disk"]));
      await vi.waitFor(async () => expect((await readStatus()).hooks.every((hook) => hook.lastRun !== null)).toBe(true), poll);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('reclaim_hook_runs_total{hook="event-log",outcome="success"} 1');
      expect(metrics).toContain('reclaim_hook_runs_total{hook="disk",outcome="success"} 1');
      expect(output).toContain('"msg":"reclaim started"');
      // The startup audit runs beside the first passes: wait for its line rather than assume it came first.
      await vi.waitFor(() => expect(output).toContain('"event":"disk-audit"'), poll);
    } finally {
      child.kill(signal);
    }
    expect(await exited).toBe(0);
    expect(output).toContain(`"signal":"${signal}","msg":"reclaim stopping"`);
    expect(output).toContain('"msg":"reclaim stopped"');
  });

  it("refuses a bad config with exit code 2 before starting anything", async () => {
    await using dir = await tempDir("cli-start-");
    await writeFile(join(dir.path, "reclaim.config.json"), JSON.stringify({ hooks: { disk: { root: ".", pressure: { low: 0.9, high: 0.7 } } } }));
    const { code, stderr, logs } = await reclaim(["start"], { cwd: dir.path });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^reclaim: .*pressure/);
    expect(logs).not.toContain("reclaim started");
  });

  it("exits 1 with a clear message when the exporter's port is taken", async () => {
    await using dir = await tempDir("cli-start-");
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as { port: number };
    try {
      await writeFile(join(dir.path, "reclaim.config.json"), JSON.stringify({ exporter: { port }, hooks: {} }));
      const { code, stderr } = await reclaim(["start"], { cwd: dir.path });
      expect(code).toBe(1);
      expect(stderr).toContain(`cannot serve the exporter on 127.0.0.1:${port}`);
    } finally {
      blocker.close();
    }
  });

  it("stops in-process when its signal fires, after the hooks have started", async () => {
    await using dir = await tempDir("cli-start-");
    await writeFile(join(dir.path, "reclaim.config.json"), JSON.stringify({ log: { level: "debug" }, exporter: { enabled: false }, hooks: { "event-log": { path: "e.jsonl", initialDelay: 0 } } }));
    const controller = new AbortController();
    // Stop once the event-log hook has finished its first pass: the event itself, not a guess at how long it takes.
    let passed!: () => void;
    const firstPass = new Promise<void>((resolve) => (passed = resolve));
    const onLogs = (logs: string) => {
      if (/"hook":"event-log".*"msg":"pass finished/.test(logs)) passed();
    };
    const running = reclaim(["start"], { cwd: dir.path, signal: controller.signal, onLogs });
    expect(await Promise.race([firstPass.then(() => "first pass finished"), running.then(() => "reclaim start ended")])).toBe("first pass finished");
    controller.abort();
    const { code, logs } = await running;
    expect(code).toBe(0);
    expect(logs).toContain('"msg":"reclaim stopped"');
    expect(logs).toContain('"hooks":["event-log"]');
    expect(logs.indexOf('"msg":"reclaim stopping"')).toBeGreaterThan(logs.search(/"msg":"pass finished/));
  });
});

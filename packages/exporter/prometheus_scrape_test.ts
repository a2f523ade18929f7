import { spawn, spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRunner } from "@reclaim/core";
import { freePort, tempDir } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it, vi } from "vitest";
import { createExporter } from "./server.ts";

const PROMETHEUS_DIR = fileURLToPath(new URL("../../docker/prometheus/", import.meta.url));
const hasPrometheus = spawnSync("prometheus", ["--version"], { stdio: "ignore" }).status === 0;

describe("a real Prometheus server", () => {
  it.skipIf(!hasPrometheus)("scrapes reclaim's /metrics, loads reclaim's alert rules from the compose stack's config and answers every dashboard query", async () => {
    await using dir = await tempDir("prometheus-");
    const registry = new Registry();
    const runner = createRunner({ name: "disk", spanName: "sweep disk", run: async () => ({ removed: 4, reclaimedBytes: 4096 }) }, { registry, enabled: true });
    await runner.runOnce();
    const app = createExporter({ registry, runners: [runner] });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const target = `127.0.0.1:${(app.server.address() as { port: number }).port}`;

    // The compose stack's prometheus.yml, pointed at this exporter and at the rules file in the repo.
    const config = (await readFile(join(PROMETHEUS_DIR, "prometheus.yml"), "utf8"))
      .replace("/etc/prometheus/reclaim.rules.yml", join(PROMETHEUS_DIR, "reclaim.rules.yml"))
      .replace("reclaim:9464", target)
      .replace("scrape_interval: 15s", "scrape_interval: 1s");
    await writeFile(join(dir.path, "prometheus.yml"), config);
    const check = spawnSync("promtool", ["check", "config", join(dir.path, "prometheus.yml")], { encoding: "utf8" });
    expect(check.stdout + check.stderr).toContain("SUCCESS");

    const port = await freePort();
    const server = spawn("prometheus", [`--config.file=${join(dir.path, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir.path, "data")}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: "ignore" });
    try {
      const api = `http://127.0.0.1:${port}/api/v1`;
      const value = await vi.waitFor(
        async () => {
          const response = await fetch(`${api}/query?query=${encodeURIComponent('reclaim_removed_total{hook="disk"}')}`);
          const body = (await response.json()) as { data?: { result: Array<{ value: [number, string] }> } };
          const sample = body.data?.result[0]?.value[1];
          if (sample === undefined) throw new Error("not scraped yet");
          return sample;
        },
        { timeout: 50_000, interval: 200 },
      );
      expect(value).toBe("4");
      const rules = (await (await fetch(`${api}/rules`)).json()) as { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string }> }> } };
      const group = rules.data.groups.find((g) => g.name === "reclaim");
      const alerts = [...(await readFile(join(PROMETHEUS_DIR, "reclaim.rules.yml"), "utf8")).matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
      expect(group?.rules.map((rule) => rule.name)).toEqual(alerts);
      expect(group?.rules.every((rule) => rule.health !== "err")).toBe(true);

      // Every query of the Grafana dashboard is one this Prometheus accepts (Grafana's $__range as a fixed range).
      const dashboard = JSON.parse(await readFile(join(PROMETHEUS_DIR, "../grafana/reclaim-dashboard.json"), "utf8")) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
      for (const { expr } of dashboard.panels.flatMap((panel) => panel.targets ?? [])) {
        const response = await fetch(`${api}/query?query=${encodeURIComponent(expr.replaceAll("$__range", "1h"))}`);
        const body = (await response.json()) as { status: string; error?: string };
        expect(body, expr).toMatchObject({ status: "success" });
      }
    } finally {
      server.kill("SIGTERM");
      await app.close();
    }
  });
});

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const RULES_DIR = fileURLToPath(new URL("../../docker/prometheus/", import.meta.url));
const PACKAGES_DIR = fileURLToPath(new URL("../", import.meta.url));
const DASHBOARD = fileURLToPath(new URL("../../docker/grafana/reclaim-dashboard.json", import.meta.url));

function promtool(args: string[]): string | null {
  try {
    execFileSync("promtool", ["--version"], { stdio: "pipe" });
  } catch {
    return null;
  }
  return execFileSync("promtool", args, { cwd: RULES_DIR, encoding: "utf8", stdio: "pipe" });
}

/** The metric names a package registers (`name: "reclaim_..."` in its non-test sources). */
function registeredBy(pkg: string): Set<string> {
  const names = new Set<string>();
  let files: string[] = [];
  try {
    files = readdirSync(join(PACKAGES_DIR, pkg)).filter((file) => file.endsWith(".ts") && !file.endsWith("_test.ts"));
  } catch {
    return names;
  }
  for (const file of files) {
    for (const match of readFileSync(join(PACKAGES_DIR, pkg, file), "utf8").matchAll(/name: "(reclaim_[a-z_]+)"/g)) names.add(match[1]!);
  }
  return names;
}

/** Metric names a PromQL text uses (histogram series folded into their family). */
const used = (text: string) => new Set([...text.matchAll(/\b(reclaim_[a-z_]+?)(?:_bucket|_count|_sum)?\b/g)].map((m) => m[1]!));

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Array<{ expr: string; legendFormat: string }>;
}
const dashboardPanels = (): Panel[] => (JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: Panel[] }).panels;

describe("docker/prometheus/reclaim.rules.yml", () => {
  it("is valid and its alerts fire as its rule tests expect (promtool test rules)", (ctx) => {
    const checked = promtool(["check", "rules", "reclaim.rules.yml"]);
    if (checked === null) return ctx.skip("promtool is not installed (apt-get install prometheus)");
    expect(checked).toContain("SUCCESS");
    expect(promtool(["test", "rules", "reclaim.rules.test.yml"])).toContain("SUCCESS");
  });

  it("has a promtool test for every alert", () => {
    const alerts = [...readFileSync(join(RULES_DIR, "reclaim.rules.yml"), "utf8").matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    const tested = new Set([...readFileSync(join(RULES_DIR, "reclaim.rules.test.yml"), "utf8").matchAll(/alertname: (\w+)/g)].map((m) => m[1]!));
    expect(alerts.length).toBeGreaterThan(0);
    for (const alert of alerts) expect(tested, `${alert} has no alert_rule_test`).toContain(alert);
  });
});

describe("the alert rules and the Grafana dashboard", () => {
  it("only use metric names that some package registers", () => {
    const registered = new Set(readdirSync(PACKAGES_DIR).flatMap((pkg) => [...registeredBy(pkg)]));
    const dashboard = readFileSync(DASHBOARD, "utf8");
    const rules = readFileSync(join(RULES_DIR, "reclaim.rules.yml"), "utf8");
    for (const name of [...used(dashboard), ...used(rules)]) expect(registered, `${name} is not registered by any package`).toContain(name);
  });
});

describe("docker/grafana/reclaim-dashboard.json", () => {
  it("draws every metric of the redis-ttl, redis-offload, cdn-urls and worktrees hooks", () => {
    const drawn = used(dashboardPanels().flatMap((panel) => panel.targets ?? []).map((target) => target.expr).join("\n"));
    for (const pkg of ["redis-ttl", "redis-offload", "cdn-urls", "worktrees"]) {
      const names = registeredBy(pkg);
      expect(names.size, `${pkg} registers no metric`).toBeGreaterThan(0);
      for (const name of names) expect(drawn, `${name} (${pkg}) has no panel`).toContain(name);
    }
  });

  it("names the hook instance in every legend and keeps panel ids unique", () => {
    const panels = dashboardPanels();
    expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
    for (const panel of panels) {
      if (panel.type === "row") continue;
      expect(panel.targets?.length, `panel "${panel.title}" has no query`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.legendFormat, `panel "${panel.title}": ${target.expr}`).toContain("{{hook}}");
    }
  });
});

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const RULES_DIR = fileURLToPath(new URL("../../docker/prometheus/", import.meta.url));

function promtool(args: string[]): string | null {
  try {
    execFileSync("promtool", ["--version"], { stdio: "pipe" });
  } catch {
    return null;
  }
  return execFileSync("promtool", args, { cwd: RULES_DIR, encoding: "utf8", stdio: "pipe" });
}

describe("docker/prometheus/reclaim.rules.yml", () => {
  it("is valid and its alerts fire as its rule tests expect (promtool test rules)", (ctx) => {
    const checked = promtool(["check", "rules", "reclaim.rules.yml"]);
    if (checked === null) return ctx.skip("promtool is not installed (apt-get install prometheus)");
    expect(checked).toContain("SUCCESS");
    expect(promtool(["test", "rules", "reclaim.rules.test.yml"])).toContain("SUCCESS");
  });
});

describe("the alert rules and the Grafana dashboard", () => {
  it("only use metric names that some package registers", async () => {
    const { readFileSync, readdirSync } = await import("node:fs");
    const { join } = await import("node:path");
    const packages = fileURLToPath(new URL("../", import.meta.url));
    const registered = new Set<string>();
    for (const pkg of readdirSync(packages)) {
      let files: string[] = [];
      try {
        files = readdirSync(join(packages, pkg)).filter((file) => file.endsWith(".ts") && !file.endsWith("_test.ts"));
      } catch {
        continue;
      }
      for (const file of files) {
        for (const match of readFileSync(join(packages, pkg, file), "utf8").matchAll(/name: "(reclaim_[a-z_]+)"/g)) registered.add(match[1]!);
      }
    }
    const used = (text: string) => new Set([...text.matchAll(/\b(reclaim_[a-z_]+?)(?:_bucket|_count|_sum)?\b/g)].map((m) => m[1]!));
    const dashboard = readFileSync(join(RULES_DIR, "../grafana/reclaim-dashboard.json"), "utf8");
    const rules = readFileSync(join(RULES_DIR, "reclaim.rules.yml"), "utf8");
    for (const name of [...used(dashboard), ...used(rules)]) expect(registered, `${name} is not registered by any package`).toContain(name);
  });
});

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

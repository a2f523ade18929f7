// The node flags `reclaim` runs with: those of the CLI's shebang (packages/cli/main.ts). Benchmarks run a hook's pass
// in a child process with them, so its time and memory are what `reclaim start` would show.
import { readFileSync } from "node:fs";

export const reclaimNodeFlags = readFileSync(new URL("../../packages/cli/main.ts", import.meta.url), "utf8")
  .split("\n")[0]
  .replace(/^#!.*?\bnode\b\s*/, "")
  .split(" ")
  .filter(Boolean);

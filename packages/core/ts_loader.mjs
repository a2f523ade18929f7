// Test-only ESM loader for child processes on Node 20 (no type stripping there): transpiles `.ts` files with the
// workspace's TypeScript (types erased, nothing else), caching the output in the temp folder so that later children
// skip loading TypeScript. Use `forkTs()` from `@reclaim/core/testing`, or:
//   node --conditions=source --import @reclaim/core/ts_loader.mjs child.ts
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { register } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

if (!globalThis.__reclaimTsLoader) {
  globalThis.__reclaimTsLoader = true;
  register(import.meta.url, import.meta.url);
}

const CACHE = join(tmpdir(), "reclaim-test-ts-cache");
let ts;

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const { mtimeMs, size } = statSync(file);
  const cached = join(CACHE, `${createHash("sha1").update(`${file}:${mtimeMs}:${size}`).digest("hex")}.js`);
  try {
    return { format: "module", source: readFileSync(cached, "utf8"), shortCircuit: true };
  } catch {
    // not cached yet
  }
  ts ??= (await import("typescript")).default;
  const output = ts.transpileModule(readFileSync(file, "utf8"), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
  }).outputText;
  mkdirSync(CACHE, { recursive: true });
  const temp = `${cached}.${process.pid}`;
  writeFileSync(temp, output);
  renameSync(temp, cached);
  return { format: "module", source: output, shortCircuit: true };
}

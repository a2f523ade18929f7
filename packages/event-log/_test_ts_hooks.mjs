// Module hooks that let a forked Node 20 child run this repo's TypeScript sources (tests only): `.ts` files are
// transpiled with the repo's `typescript` (types erased, nothing else) and cached by path, size and mtime.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const cacheDir = join(tmpdir(), "reclaim-ts-cache");

// With RECLAIM_TEST_LEAN_CORE=1, `@reclaim/core` resolves to _test_lean_core.ts (the same core sources, fewer of them).
export async function resolve(specifier, context, nextResolve) {
  if (specifier === "@reclaim/core" && process.env.RECLAIM_TEST_LEAN_CORE === "1") {
    return { url: new URL("./_test_lean_core.ts", import.meta.url).href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const info = await stat(file);
  const key = createHash("sha1").update(`${file}:${info.size}:${info.mtimeMs}`).digest("hex");
  const cached = join(cacheDir, `${key}.mjs`);
  try {
    return { format: "module", source: await readFile(cached, "utf8"), shortCircuit: true };
  } catch {}
  const ts = (await import("typescript")).default;
  const source = ts.transpileModule(await readFile(file, "utf8"), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
  }).outputText;
  await mkdir(cacheDir, { recursive: true });
  const draft = `${cached}.${process.pid}`;
  await writeFile(draft, source);
  await rename(draft, cached);
  return { format: "module", source, shortCircuit: true };
}

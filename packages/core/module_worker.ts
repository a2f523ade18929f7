import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Starts a worker thread from a module that sits beside the caller: `<name>.js` when the caller runs from `dist`,
 * `<name>.ts` when it runs from its TypeScript sources (tests: vitest resolves packages through their `source`
 * condition). Node 20 cannot load a `.ts` module by itself, so such a worker gets what `forkTs()` gives a child
 * process: the `source` condition and core's test loader (`ts_loader.mjs`), which transpiles `.ts` files.
 * Keep the worker module's imports light: everything it imports is loaded by every worker it starts.
 *
 * @example
 * ```ts
 * const worker = startModuleWorker(import.meta.url, "_scan_worker", { workerData: config });
 * ```
 */
export function startModuleWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith(".ts")) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const loader = new URL(import.meta.url.endsWith(".ts") ? "./ts_loader.mjs" : "../ts_loader.mjs", import.meta.url).href;
  return new Worker(new URL(`./${name}.ts`, callerUrl), { ...options, execArgv: [...(options.execArgv ?? []), "--conditions=source", "--import", loader] });
}

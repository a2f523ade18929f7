/**
 * @module
 * Test helpers shared by reclaim's packages (import from `@reclaim/core/testing`): temporary folders, a real
 * tmpfs of a given size, in-memory spans, and service URLs. Not part of the runtime surface.
 *
 * @example
 * ```ts
 * import { tempDir, memorySpans } from "@reclaim/core/testing";
 * await using dir = await tempDir();
 * const spans = memorySpans();
 * ```
 */
import { type ChildProcess, execFileSync, fork, type ForkOptions } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import type { Tracer } from "@opentelemetry/api";
import { Registry } from "prom-client";
import type { HookEnvironment } from "./definition.ts";
import { silentLogger } from "./logger.ts";

/** A temporary folder removed on dispose. */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
}

/**
 * Creates a folder under the OS temp dir, removed (recursively) when disposed.
 *
 * @example
 * ```ts
 * await using dir = await tempDir("disk-");
 * await writeFile(join(dir.path, "a"), "x");
 * ```
 */
export async function tempDir(prefix = "reclaim-"): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** A mounted tmpfs, unmounted and removed on dispose. */
export interface Tmpfs extends AsyncDisposable {
  readonly path: string;
}

/**
 * Mounts a real tmpfs of `sizeBytes` (needs root). Returns the reason as a string when it cannot, so the test can
 * say why it was skipped.
 *
 * @example
 * ```ts
 * const fs = await mountTmpfs(8 * 1024 * 1024);
 * if (typeof fs === "string") return ctx.skip(fs);
 * ```
 */
export async function mountTmpfs(sizeBytes: number): Promise<Tmpfs | string> {
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
  const path = await mkdtemp(join(tmpdir(), "reclaim-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "tmpfs", path], { stdio: "pipe" });
  } catch (err) {
    await rm(path, { recursive: true, force: true });
    return `mount -t tmpfs failed: ${(err as Error).message.split("\n")[0]}`;
  }
  return {
    path,
    async [Symbol.asyncDispose]() {
      try {
        execFileSync("umount", ["-l", path], { stdio: "pipe" });
      } finally {
        await rm(path, { recursive: true, force: true });
      }
    },
  };
}

/** Spans captured in memory. */
export interface MemorySpans {
  readonly tracer: Tracer;
  /** Flushes and returns the finished spans. */
  spans(): Promise<ReadableSpan[]>;
}

/**
 * A tracer whose finished spans are kept in memory (InMemorySpanExporter + forceFlush).
 *
 * @example
 * ```ts
 * const { tracer, spans } = memorySpans();
 * const runner = createRunner(hook, { tracer });
 * await runner.runOnce();
 * expect((await spans())[0]?.name).toBe("sweep disk");
 * ```
 */
export function memorySpans(): MemorySpans {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  return {
    tracer: provider.getTracer("reclaim-test"),
    async spans() {
      await processor.forceFlush();
      return exporter.getFinishedSpans();
    },
  };
}

/** `REDIS_URL`, or the port `scripts/services.sh` starts Redis on. */
export const redisUrl: string = process.env.REDIS_URL ?? "redis://127.0.0.1:6390";
/**
 * `REDIS_CLUSTER_NODES` as `host:port` strings (the three-master loopback cluster `scripts/services.sh` starts on
 * 127.0.0.1:7001-7003); empty when unset, so a test can skip with a reason.
 *
 * @example
 * ```ts
 * const cluster = new Cluster(redisClusterNodes.map((node) => ({ host: node.split(":")[0], port: Number(node.split(":")[1]) })));
 * ```
 */
export const redisClusterNodes: string[] = (process.env.REDIS_CLUSTER_NODES ?? "").split(",").map((node) => node.trim()).filter(Boolean);
/** `DATABASE_URL`, or the port `scripts/services.sh` starts Postgres on. */
export const databaseUrl: string = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5439/postgres";

/** URL of the test-only loader (`ts_loader.mjs`) that lets a forked Node 20 process run TypeScript sources. */
export const TS_LOADER: string = new URL("./ts_loader.mjs", import.meta.url).href;

/**
 * Forks a TypeScript script as a real Node process (for crash and multi-process tests): packages resolve through
 * their `source` export condition and `.ts` files are transpiled by {@link TS_LOADER}. `options.execArgv` is added
 * after the loader (e.g. another `--import`).
 *
 * @example
 * ```ts
 * const child = forkTs(new URL("./_test_pass_child.ts", import.meta.url), [JSON.stringify(options)], { stdio: "inherit" });
 * ```
 */
export function forkTs(script: string | URL, args: readonly string[] = [], options: ForkOptions = {}): ChildProcess {
  const path = typeof script === "string" && !script.startsWith("file:") ? script : fileURLToPath(script);
  return fork(path, args, { ...options, execArgv: ["--conditions=source", "--import", TS_LOADER, ...(options.execArgv ?? [])] });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (for servers a test starts).
 *
 * @example
 * ```ts
 * const port = await freePort();
 * await app.listen({ host: "127.0.0.1", port });
 * ```
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A {@link HookEnvironment} for tests that build a hook through its definition: instance name = the hook type
 * unless given, a fresh registry, a silent logger, and no stores unless `redis`/`postgres` are given.
 *
 * @example
 * ```ts
 * const hook = await diskDefinition.create(options, testHookEnvironment({ instance: "media", dataDir: dir.path }));
 * ```
 */
export function testHookEnvironment(overrides: Partial<HookEnvironment> = {}): HookEnvironment {
  const none = (store: string) => () => Promise.reject(new Error(`no ${store} in this test's hook environment`));
  return {
    instance: "test",
    env: {},
    dataDir: tmpdir(),
    logger: silentLogger,
    registry: new Registry(),
    redis: none("Redis"),
    postgres: none("Postgres"),
    ...overrides,
  };
}

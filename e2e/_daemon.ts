import { GenericContainer, Wait, type StartedNetwork, type StartedTestContainer } from "testcontainers";
import { repoPath } from "./_images.ts";

/** Where the seed script (e2e/fixtures/seed.mjs) sits inside the container. */
export const SEED = "/e2e/seed.mjs";
/** The service's data folder inside the container: a 100 MB tmpfs. */
export const DATA = "/app/.data";
const CONFIG = "/etc/reclaim/reclaim.config.json";

/** How to start a reclaim container. */
export interface DaemonOptions {
  image: string;
  /** Environment of the container (RECLAIM_INTERVAL, WRITER, ...). */
  env?: Record<string, string>;
  /** A reclaim.config.json to run with (`start -c`); the embedded default when absent. */
  config?: unknown;
  /** Seed commands (arguments of seed.mjs) run in the container, in order, before reclaim starts. */
  seed?: string[][];
  /** Other commands run in the container after the seed commands, before reclaim starts. */
  commands?: string[][];
  /** Size of the tmpfs at /app/.data. @default "100m" */
  tmpfsSize?: string;
  network?: StartedNetwork;
  /** Host paths mounted into the container (the Docker socket). */
  bindMounts?: { source: string; target: string; mode?: "rw" | "ro" }[];
}

/** One JSON log line of the container (pino: `time` in ms, `msg`, `hook`, ...). */
export interface LogLine {
  time?: number;
  msg?: string;
  hook?: string;
  [field: string]: unknown;
}

/** Prometheus samples of one scrape. */
export class Samples {
  readonly #samples: { name: string; labels: Record<string, string>; value: number }[] = [];

  constructor(text: string) {
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!match) continue;
      const labels: Record<string, string> = {};
      for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
      this.#samples.push({ name: match[1]!, labels, value: Number(match[3]) });
    }
  }

  /** Sum of the samples of `name` whose labels include `labels` (0 when there is none). */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.#samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((total, s) => total + s.value, 0);
  }

  /** Whether any sample of `name` exists. */
  has(name: string): boolean {
    return this.#samples.some((s) => s.name === name);
  }
}

/** A running reclaim container with a 100 MB tmpfs at /app/.data. */
export class Daemon {
  readonly container: StartedTestContainer;
  readonly #logs: string[];

  constructor(container: StartedTestContainer, logs: string[]) {
    this.container = container;
    this.#logs = logs;
  }

  /** Base URL of the exporter, as mapped on the host. */
  get url(): string {
    return `http://${this.container.getHost()}:${this.container.getMappedPort(9464)}`;
  }

  async metrics(): Promise<Samples> {
    const response = await fetch(`${this.url}/metrics`);
    if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
    return new Samples(await response.text());
  }

  async status(): Promise<unknown> {
    const response = await fetch(`${this.url}/status`);
    if (!response.ok) throw new Error(`GET /status: ${response.status}`);
    return response.json();
  }

  /** Runs a command in the container; throws with its output when it fails. */
  async exec(command: string[]): Promise<string> {
    const result = await this.container.exec(command);
    if (result.exitCode !== 0) {
      throw new Error(`${command.join(" ")} exited with ${result.exitCode}: ${result.stderr}${result.stdout}`);
    }
    return result.stdout;
  }

  /** Runs one seed.mjs command in the container and returns its JSON answer. */
  async seed<T = unknown>(...args: string[]): Promise<T> {
    return JSON.parse(await this.exec(["node", SEED, ...args])) as T;
  }

  /** The container's output so far (reclaim's pino lines, the writer's lines). */
  logs(): string {
    return this.#logs.join("");
  }

  /** The container's JSON log lines so far (pino's and the writer's), in order; other lines are left out. */
  logLines(): LogLine[] {
    return parseLogLines(this.logs());
  }

  async stop(): Promise<void> {
    await this.container.stop({ remove: true, removeVolumes: true });
  }
}

/** The JSON lines (pino's) of a process's output, in order; other lines and a line still being written are left out. */
export function parseLogLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of output.split("\n")) {
    if (!text.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      // a line still being written
    }
  }
  return lines;
}

function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * Starts the reclaim image with a tmpfs at /app/.data, the seed script copied in, seed commands run before
 * reclaim starts, and waits until /healthz answers.
 *
 * @example
 * ```ts
 * const daemon = await startDaemon({ image, env: { RECLAIM_INTERVAL: "2s" }, seed: [["events", "/app/.data/events.jsonl", "60MiB"]] });
 * ```
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const logs: string[] = [];
  const reclaimArgs = options.config === undefined ? ["start"] : ["start", "-c", CONFIG];
  const steps = [
    ...(options.seed ?? []).map((args) => ["node", SEED, ...args].map(shellQuote).join(" ")),
    ...(options.commands ?? []).map((command) => command.map(shellQuote).join(" ")),
    ["exec", "/usr/local/bin/reclaim-entrypoint", ...reclaimArgs].map((arg, i) => (i === 0 ? arg : shellQuote(arg))).join(" "),
  ];
  let builder = new GenericContainer(options.image)
    .withTmpFs({ [DATA]: `rw,size=${options.tmpfsSize ?? "100m"}` })
    .withEnvironment({ RECLAIM_LOG_LEVEL: "info", ...options.env })
    .withExposedPorts(9464)
    .withCopyFilesToContainer([{ source: repoPath("e2e/fixtures/seed.mjs"), target: SEED }])
    .withEntrypoint(["/bin/sh", "-c", steps.join(" && ")])
    .withLogConsumer((stream) => {
      stream.on("data", (chunk: Buffer | string) => logs.push(chunk.toString()));
    })
    .withWaitStrategy(Wait.forHttp("/healthz", 9464).forStatusCode(200))
    .withStartupTimeout(120_000);
  if (options.config !== undefined) {
    builder = builder.withCopyContentToContainer([{ content: JSON.stringify(options.config, null, 2), target: CONFIG }]);
  }
  if (options.network) builder = builder.withNetwork(options.network);
  if (options.bindMounts) builder = builder.withBindMounts(options.bindMounts);
  try {
    return new Daemon(await builder.start(), logs);
  } catch (err) {
    throw new Error(`reclaim container did not become healthy:\n${logs.join("").slice(-4000)}`, { cause: err });
  }
}

/**
 * Polls `probe` until it returns without throwing, then returns its value; after `timeoutMs` rethrows the last
 * failure (the assertion message of an `expect` inside the probe). The deadline only bounds a hung run: what is
 * asserted is the outcome, never how fast it came.
 *
 * @example
 * ```ts
 * await eventually(async () => expect((await daemon.metrics()).sum("reclaim_event_log_rotations_total")).toBeGreaterThan(0));
 * ```
 */
export async function eventually<T>(probe: () => Promise<T>, { timeoutMs = 60_000, everyMs = 250 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}

/**
 * Prints the last lines of each container's output when a test fails, so a failure in CI explains itself.
 *
 * @example
 * ```ts
 * afterEach((ctx) => dumpLogsIfFailed(ctx.task.result?.state, daemon));
 * ```
 */
export function dumpLogsIfFailed(state: string | undefined, ...daemons: (Daemon | undefined)[]): void {
  if (state !== "fail") return;
  for (const daemon of daemons) {
    if (!daemon) continue;
    console.error(`--- last output of ${daemon.container.getName()} ---\n${daemon.logs().split("\n").slice(-60).join("\n")}`);
  }
}

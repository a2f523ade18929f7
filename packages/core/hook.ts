import type { Span } from "@opentelemetry/api";
import type { Registry } from "prom-client";
import type { Logger } from "./logger.ts";

/**
 * What one pass of a hook reports. `removed` and `reclaimedBytes` feed the common metrics; anything else is
 * detail that shows up in `status().lastRun.report` and in `reclaim run` output.
 */
export interface RunReport {
  /** Items removed (files, lines, images, rows...). In a dry run: items that would be removed. */
  removed: number;
  /** Bytes given back. In a dry run: bytes that would be given back. */
  reclaimedBytes: number;
  /** Removed items split by kind for `reclaim_removed_total{kind}`; without it all count as the hook's `kind`. */
  removedByKind?: Record<string, number>;
  [detail: string]: unknown;
}

/** What the runner hands to each pass. */
export interface RunContext {
  /** Fires when the runner stops: check it between units of work (see `throwIfAborted`). */
  signal: AbortSignal;
  /** pino child logger bound to `{ hook }`. */
  log: Logger;
  /** The pass's root span (`<verb> <object>`): add attributes, child spans go under it. */
  span: Span;
  /** Report what would be done, touch nothing. */
  dryRun: boolean;
  /** Current time in ms (injectable for tests). */
  now(): number;
}

/**
 * A hook: one function that does one pass over its resource. The runner owns everything else.
 *
 * @example
 * ```ts
 * const hook: Hook = {
 *   name: "noop",
 *   spanName: "sweep nothing",
 *   async run(ctx) { ctx.log.debug("nothing to do"); return { removed: 0, reclaimedBytes: 0 }; },
 * };
 * ```
 */
export interface Hook<R extends RunReport = RunReport> {
  /**
   * Stable, low-cardinality instance name: the hook type (`event-log`, `disk`, ...) or the instance name from the
   * config (`logs-db`). The `hook` label of every metric, the status entry, the lock key.
   */
  readonly name: string;
  /** The hook type when the name is an instance name (`sqlite-compactor` for `logs-db`). @default name */
  readonly type?: string;
  /** Root span name, `<verb> <object>`. @default `run <name>` */
  readonly spanName?: string;
  /** Default `kind` label for removed items. @default "item" */
  readonly kind?: string;
  /** The resolved, frozen options, shown in `status().options`. */
  readonly options?: Readonly<object>;
  /** One pass. May throw: the runner contains it. */
  run(ctx: RunContext): Promise<R>;
  /**
   * Extra, JSON-safe status of the resource (sizes, gauges), served as `status().details`. Its `resources` field, a
   * list of {@link ResourceFigure}, is what the console draws for the hook.
   */
  status?(): Record<string, unknown> & { resources?: ResourceFigure[] };
  /** Releases clients or handles the hook opened itself. */
  close?(): Promise<void> | void;
}

/** Instance names: a lower-case letter, then lower-case letters, digits and dashes (`logs-db`, `jobs-redis`). */
export const INSTANCE_NAME: RegExp = /^[a-z][a-z0-9-]*$/;

/**
 * Runtime options every hook factory takes besides its own: the instance name and the registry. Two hooks of one
 * type on one registry, each with its own `name`, report as separate series.
 *
 * @example
 * ```ts
 * createEventLogHook({ name: "audit-log", path: "/data/audit.jsonl", registry });
 * ```
 */
export interface HookIdentity {
  /** Instance name: `hook.name`, the `hook` label of every metric, the lock key. @default the hook type */
  name?: string;
  /** Registry for the hook's metrics. @default a private registry */
  registry?: Registry;
}

/**
 * One figure of a hook's resource, as the console draws it: a value as a bar against its `max`, with `marks`
 * (watermarks, limits) on it. In `status().details.resources`.
 *
 * @example
 * ```ts
 * const figure: ResourceFigure = { label: "disk used", value: 0.74, unit: "ratio", max: 1, marks: [{ label: "high", value: 0.7 }] };
 * ```
 */
export interface ResourceFigure {
  label: string;
  value: number;
  /** `bytes` (shown as KiB/MiB/...), `ratio` (shown as a percentage), `count`, or `seconds` (shown as s/min/h/d). */
  unit: "bytes" | "ratio" | "count" | "seconds";
  /** The bar's full scale (a limit, the file size); without it the figure is a number only. */
  max?: number;
  marks?: Array<{ label: string; value: number }>;
}

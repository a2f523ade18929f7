import { z } from "zod";
import { parseDuration } from "./duration.ts";
import { OptionRangeError, OptionTypeError } from "./errors.ts";
import { parseSize } from "./size.ts";

/** Schema type of {@link duration} and {@link size}: a number or a string in, a number out. */
export type QuantitySchema = z.ZodPipe<z.ZodUnion<readonly [z.ZodNumber, z.ZodString]>, z.ZodTransform<number, string | number>>;

/**
 * A zod schema for a duration option: accepts milliseconds or `"90s"`, `"30m"`, `"7d"`; outputs milliseconds.
 *
 * @example
 * ```ts
 * // zod's .default() skips the transform: give defaults with .prefault("7d") or in milliseconds.
 * const schema = z.object({ maxAge: duration().prefault("7d") });
 * schema.parse({}).maxAge; // 604800000
 * ```
 */
export function duration(): QuantitySchema {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    try {
      return parseDuration(value);
    } catch {
      ctx.addIssue({ code: "custom", message: `must be a duration such as "90s", "30m", "7d" or milliseconds`, input: value });
      return z.NEVER;
    }
  }).describe('a duration: "90s", "30m", "7d" or milliseconds');
}

/**
 * A zod schema for a size option: accepts bytes or `"50MiB"`, `"1GB"`; outputs bytes.
 *
 * @example
 * ```ts
 * const schema = z.object({ maxBytes: size().prefault("50MiB") });
 * ```
 */
export function size(): QuantitySchema {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    try {
      return parseSize(value);
    } catch {
      ctx.addIssue({ code: "custom", message: `must be a size such as "50MiB", "1GB" or bytes`, input: value });
      return z.NEVER;
    }
  }).describe('a size: "50MiB", "1GB" or bytes');
}

/** One problem found in options or a config file. */
export interface OptionProblem {
  /** Dotted path of the field, e.g. `hooks.disk.pressure.high`. */
  path: string;
  /** Why the value is refused, e.g. `must be at most 1`. */
  reason: string;
  /** Whether the problem is the value's type (TypeError) rather than its range (RangeError). */
  isType: boolean;
  /** The value found there, when there was one. */
  value?: unknown;
}

/**
 * Validates options with a zod schema and returns the parsed, frozen result. On failure it throws an
 * {@link OptionTypeError} or {@link OptionRangeError} naming the first bad field, its reason and its value.
 *
 * @example
 * ```ts
 * const opts = parseOptions("disk", diskOptions, { root: "/data", pressure: { high: 1.7 } });
 * // RangeError: Cannot create disk hook as 'pressure.high' must be at most 1: current value is 1.7
 * ```
 */
export function parseOptions<S extends z.ZodType>(hook: string, schema: S, input: unknown): Readonly<z.output<S>> {
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return deepFreeze(result.data);
  const problem = describeIssues(result.error)[0]!;
  const Ctor = problem.isType ? OptionTypeError : OptionRangeError;
  throw new Ctor(hook, problem.path || "options", problem.reason, problem.value);
}

/**
 * Turns a zod error into one readable problem per issue, with field paths joined by dots.
 *
 * @example
 * ```ts
 * const result = schema.safeParse(config, { reportInput: true });
 * if (!result.success) for (const p of describeIssues(result.error)) console.error(`${p.path}: ${p.reason}`);
 * ```
 */
export function describeIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): OptionProblem[] {
  const problems: OptionProblem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        problems.push({ path: joinPath([...path, key]), reason: "is not a known option", isType: false });
      }
      continue;
    }
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // Report the branch that got furthest rather than "invalid input".
      const nested = issue.errors.flat();
      const deepest = nested.reduce((a, b) => (b.path.length > a.path.length ? b : a), nested[0]!);
      if (deepest.path.length > 0) {
        problems.push(...describeIssues(new z.ZodError([deepest]), path));
        continue;
      }
    }
    const problem: OptionProblem = { path: joinPath(path), reason: reasonOf(issue), isType: issue.code === "invalid_type" };
    if ("input" in issue && issue.input !== undefined) problem.value = issue.input;
    problems.push(problem);
  }
  return problems;
}

function reasonOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined ? `is required (${issue.expected})` : `must be ${article(issue.expected)}`;
    case "too_big":
      return `must be ${issue.inclusive === false ? "less than" : "at most"} ${String(issue.maximum)}${issue.origin === "string" ? " characters long" : issue.origin === "array" ? " items" : ""}`;
    case "too_small":
      return `must be ${issue.inclusive === false ? "greater than" : "at least"} ${String(issue.minimum)}${issue.origin === "string" ? " characters long" : issue.origin === "array" ? " items" : ""}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      return issue.message.startsWith("Invalid") ? `must be a valid ${issue.format}` : issue.message;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function joinPath(path: readonly PropertyKey[]): string {
  return path.map((key) => (typeof key === "number" ? `[${key}]` : String(key))).join(".").replace(/\.\[/g, "[");
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { DockerfileParser, type Dockerfile, type From, type Label } from "dockerfile-ast";
import { carriesLabel } from "./_dangling.ts";

/** The labels the image built from a Dockerfile gets, as far as the Dockerfile itself says. */
export interface DockerfileLabels {
  /** Labels of the built stage, merged over those of the stages it is built `FROM` in the same file. */
  labels: Record<string, string>;
  /** Name (or `#index`) of the stage that is built: `target`, else the last one. `null` without a `FROM`. */
  stage: string | null;
  /** The image outside this file the built stage starts from (`node:20-slim`, `scratch`), whose labels it inherits. */
  base: string | null;
}

/** Options of {@link dockerfileLabels} and {@link checkDockerfileLabels}. */
export interface DockerfileLabelOptions {
  /** The stage that is built, as `docker build --target`. @default the last stage */
  target?: string;
}

/**
 * Reads the labels the final image of a Dockerfile declares. Handled: `LABEL k=v`, several pairs per instruction
 * (`LABEL a=b c=d`), quoted keys and values, escapes, line continuations, the `# escape=` directive, lower-case
 * instructions, the legacy `LABEL key value` form, `$VAR`/`${VAR}`/`${VAR:-default}` from `ARG` defaults and `ENV`,
 * and multi-stage builds: the built stage (the last one, or `target`) gets its own labels over those of the stages
 * it is built `FROM`, recursively. Not visible here: labels of an external base image, `docker build --label`,
 * compose `labels:` and `ONBUILD LABEL` of a base.
 *
 * @example
 * ```ts
 * dockerfileLabels('FROM scratch AS base\nLABEL a=b c="d e"\nFROM base\nLABEL f=g\n');
 * // { labels: { a: "b", c: "d e", f: "g" }, stage: "#1", base: "scratch" }
 * ```
 */
export function dockerfileLabels(source: string, options: DockerfileLabelOptions = {}): DockerfileLabels {
  const dockerfile = DockerfileParser.parse(source);
  const stages: Array<{ name: string | null; from: string; labels: Array<[string, string]> }> = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword === "FROM") {
      const from = instruction as From;
      const line = from.getRange().start.line;
      stages.push({ name: from.getBuildStage()?.toLowerCase() ?? null, from: expand(dockerfile, from.getImage() ?? "", line), labels: [] });
    } else if (keyword === "LABEL" && stages.length > 0) {
      const line = instruction.getRange().start.line;
      for (const property of (instruction as Label).getProperties()) {
        stages.at(-1)!.labels.push([expand(dockerfile, property.getName(), line), expand(dockerfile, property.getValue() ?? "", line)]);
      }
    }
  }
  const target = options.target?.toLowerCase();
  const index = target === undefined ? stages.length - 1 : stages.findIndex((s) => s.name === target);
  if (index < 0 && target !== undefined) throw new RangeError(`no stage named "${options.target}"`);
  if (index < 0) return { labels: {}, stage: null, base: null };

  // Walk FROM <earlier stage> links back to an external image, then apply labels from the oldest stage forward.
  const chain: number[] = [];
  let at = index;
  for (;;) {
    chain.unshift(at);
    const from = stages[at]!.from.toLowerCase();
    const parent = stages.findIndex((s, i) => i < at && s.name === from);
    if (parent < 0) break;
    at = parent;
  }
  const labels: Record<string, string> = {};
  for (const i of chain) for (const [key, value] of stages[i]!.labels) labels[key] = value;
  return { labels, stage: stages[index]!.name ?? `#${index}`, base: stages[chain[0]!]!.from || null };
}

/** How one Dockerfile fared in {@link checkDockerfileLabels}. */
export interface DockerfileLabelReport extends Partial<DockerfileLabels> {
  path: string;
  /** True when the final image declares the label (with the required value, when the label has one). */
  declared: boolean;
  /** Why the file could not be read or parsed. */
  error?: string;
}

/** Result of {@link checkDockerfileLabels}; `ok` is false when any file lacks the label or could not be read. */
export interface LabelCheckResult {
  label: string;
  ok: boolean;
  files: DockerfileLabelReport[];
  /** Paths of the files that do not declare the label (or could not be read). */
  missing: string[];
}

/**
 * Checks that each Dockerfile's final image declares `label` (`key=value`, or a bare `key` for any value), so that
 * its dangling images are ones the docker-images hook will prune. A folder stands for its `Dockerfile`.
 * Behind `reclaim docker check-labels [Dockerfile...]`, which exits non-zero when `ok` is false.
 *
 * @example
 * ```ts
 * const result = await checkDockerfileLabels(["docker/Dockerfile", "docker/worker.Dockerfile"], "reclaim.managed=true");
 * process.stdout.write(formatLabelCheck(result));
 * process.exitCode = result.ok ? 0 : 1;
 * ```
 */
export async function checkDockerfileLabels(paths: readonly string[], label: string, options: DockerfileLabelOptions = {}): Promise<LabelCheckResult> {
  const files = await Promise.all(
    paths.map(async (path): Promise<DockerfileLabelReport> => {
      try {
        const file = (await stat(path)).isDirectory() ? join(path, "Dockerfile") : path;
        const found = dockerfileLabels(await readFile(file, "utf8"), options);
        return { path, declared: carriesLabel(found.labels, label), ...found };
      } catch (err) {
        return { path, declared: false, error: (err as Error).message };
      }
    }),
  );
  const missing = files.filter((f) => !f.declared).map((f) => f.path);
  return { label, ok: files.length > 0 && missing.length === 0, files, missing };
}

/**
 * Human-readable lines for a {@link LabelCheckResult}: one per file, then a summary that says what the mistake costs.
 *
 * @example
 * ```ts
 * console.log(formatLabelCheck(await checkDockerfileLabels(["Dockerfile"], "reclaim.managed=true")));
 * // ok       Dockerfile: declares reclaim.managed=true
 * // all 1 Dockerfile(s) declare reclaim.managed=true
 * ```
 */
export function formatLabelCheck(result: LabelCheckResult): string {
  const { label } = result;
  const key = label.split("=")[0]!;
  const lines = result.files.map((file) => {
    if (file.error !== undefined) return `error    ${file.path}: ${file.error}`;
    if (file.declared) return `ok       ${file.path}: declares ${label}`;
    const found = file.labels && Object.hasOwn(file.labels, key) ? `declares ${key}=${file.labels[key]}, not ${label}` : `does not declare ${label}`;
    const where = file.stage === null ? "no FROM instruction" : `final stage ${file.stage}${file.base ? `, FROM ${file.base} (labels of that image are not visible here)` : ""}`;
    return `missing  ${file.path}: ${found} (${where})`;
  });
  if (result.files.length === 0) lines.push("no Dockerfile given");
  else if (result.ok) lines.push(`all ${result.files.length} Dockerfile(s) declare ${label}`);
  else lines.push(`${result.missing.length} of ${result.files.length} Dockerfile(s) do not declare ${label}: their dangling images are never pruned (they show as reclaim_docker_dangling_images{scope="unmanaged"})`);
  return `${lines.join("\n")}\n`;
}

/** Expands `$VAR`, `${VAR}` and `${VAR:-default}` from ARG defaults and ENV in scope at `line`; unknown ones stay as written. */
function expand(dockerfile: Dockerfile, text: string, line: number): string {
  if (!text.includes("$")) return text;
  return text.replace(/\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g, (whole, braced: string | undefined, fallback: string | undefined, bare: string | undefined) => {
    const value = dockerfile.resolveVariable((braced ?? bare)!, line);
    if (typeof value === "string" && value !== "") return value;
    return fallback ?? whole;
  });
}

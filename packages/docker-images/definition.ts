import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { defineHook, UsageError, type HookDefinition } from "@reclaim/core";
import { checkDockerfileLabels, formatLabelCheck } from "./dockerfile_labels.ts";
import { z } from "zod";
import { dockerHostOptions } from "./_docker_client.ts";
import { createDockerImagesHook, DOCKER_IMAGES_HOOK, dockerImagesOptions } from "./prune_images.ts";

/** The label reclaim's own images declare, used by the embedded default unless `RECLAIM_DOCKER_LABEL` says otherwise. */
export const DEFAULT_DOCKER_LABEL = "reclaim.managed=true";

/** Where the embedded default looks for a local Docker engine when `DOCKER_HOST` is not set. */
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/**
 * The `hooks.docker-images` block of `reclaim.config.json` (the command adds `enabled`, `interval`,
 * `initialDelay`, `jitter`).
 *
 * @example
 * ```ts
 * dockerImagesConfig.parse({ label: "cascade.managed=true" });
 * // { label: "cascade.managed=true", minAge: 600000, concurrency: 4 }
 * ```
 */
export const dockerImagesConfig = z
  .strictObject({
    /** Only dangling images carrying this label are removed. Required. */
    label: dockerImagesOptions.shape.label,
    /** Images created less than this long ago are spared. @default "10m" */
    minAge: dockerImagesOptions.shape.minAge,
    /** Removals in flight at once. @default 4 */
    concurrency: dockerImagesOptions.shape.concurrency,
    /** The engine's unix socket. @default `DOCKER_HOST`, else /var/run/docker.sock */
    socketPath: z.string().startsWith("/", "must be an absolute path such as /var/run/docker.sock").optional(),
    /** The engine as `unix:///path`, `tcp://host:port`, `http(s)://host:port`. @default `DOCKER_HOST` */
    host: z
      .string()
      .superRefine((host, ctx) => {
        const parsed = dockerHostOptions(host);
        if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed, input: host });
      })
      .optional(),
  })
  .refine((o) => o.socketPath === undefined || o.host === undefined, { message: "give socketPath or host, not both", path: ["host"] });

/**
 * Options of the embedded default: on only when a Docker engine is reachable the usual way (`DOCKER_HOST` set, or
 * a socket at `socketPath`), with the label from `RECLAIM_DOCKER_LABEL` or {@link DEFAULT_DOCKER_LABEL}.
 *
 * @example
 * ```ts
 * embeddedDockerImagesOptions({ DOCKER_HOST: "unix:///var/run/docker.sock" }); // { label: "reclaim.managed=true" }
 * ```
 */
export function embeddedDockerImagesOptions(
  env: Readonly<Record<string, string | undefined>>,
  socketPath: string = DEFAULT_DOCKER_SOCKET,
): z.input<typeof dockerImagesConfig> | undefined {
  if (!env.DOCKER_HOST && !existsSync(socketPath)) return undefined;
  return { label: env.RECLAIM_DOCKER_LABEL || DEFAULT_DOCKER_LABEL };
}

/**
 * How the `reclaim` command runs the docker-images hook: every 30 min after 60 s, and in the embedded default only
 * when a Docker engine is present.
 *
 * @example
 * ```json
 * { "hooks": { "docker-images": { "label": "cascade.managed=true", "minAge": "10m", "concurrency": 4 } } }
 * ```
 */
export const dockerImagesDefinition: HookDefinition<typeof dockerImagesConfig> = defineHook({
  name: DOCKER_IMAGES_HOOK,
  summary: "prune dangling Docker images that carry the managed label",
  options: dockerImagesConfig,
  schedule: { interval: 1_800_000, initialDelay: 60_000 },
  embeddedDefault: (env) => embeddedDockerImagesOptions(env.env),
  create(options, env) {
    const { socketPath, host, ...rest } = options;
    const docker = socketPath !== undefined ? { socketPath } : host !== undefined ? (dockerHostOptions(host) as Exclude<ReturnType<typeof dockerHostOptions>, string>) : undefined;
    return createDockerImagesHook({ ...rest, name: env.instance, registry: env.registry, ...(docker ? { docker } : {}) });
  },
  commands(program, cli) {
    program
      .command("docker")
      .description("Docker helpers")
      .command("check-labels")
      .description("exit 1 when a Dockerfile does not declare the managed label the docker-images hook prunes by")
      .argument("[dockerfiles...]", "Dockerfiles to check", ["Dockerfile"])
      .option("--label <label>", "the managed label, key=value (default: RECLAIM_DOCKER_LABEL or reclaim.managed=true)")
      .action(async (files: string[], flags: { label?: string }) => {
        const label = flags.label ?? (cli.env.RECLAIM_DOCKER_LABEL || DEFAULT_DOCKER_LABEL);
        if (!/^[^=\s]+(=.*)?$/.test(label)) throw new UsageError(`--label must look like key=value: current value is ${JSON.stringify(label)}`);
        const result = await checkDockerfileLabels(files.map((file) => resolve(cli.cwd, file)), label);
        cli.stdout(`${formatLabelCheck(result)}\n`);
        cli.exit(result.ok ? 0 : 1);
      });
  },
});

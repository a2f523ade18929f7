import { resolve } from "node:path";
import { auditDir, formatAudit } from "@reclaim/disk";
import { checkDockerfileLabels, DEFAULT_DOCKER_LABEL, formatLabelCheck } from "@reclaim/docker-images";
import { type Command, InvalidArgumentError } from "commander";
import type { Io } from "./io.ts";
import { UsageError } from "./usage_error.ts";

/** Verbs that belong to one hook package: `audit` (disk), `docker check-labels` (docker-images). */
export function registerExtraCommands(program: Command, io: Io, setCode: (code: number) => void): void {
  program
    .command("audit")
    .description("show what fills a folder: total, per top-level folder, largest files")
    .argument("<dir>", "folder to audit")
    .option("--top <n>", "how many of the largest files to list", positiveInt, 10)
    .option("--json", "print JSON instead of a table")
    .action(async (dir: string, flags: { top: number; json?: boolean }) => {
      let result;
      try {
        result = await auditDir(resolve(io.cwd, dir), { top: flags.top });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") throw new UsageError(`cannot audit ${dir}: ${code === "ENOENT" ? "no such folder" : "not a folder"}`);
        throw err;
      }
      io.stdout(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatAudit(result)}\n`);
      setCode(0);
    });

  program
    .command("docker")
    .description("Docker helpers")
    .command("check-labels")
    .description("exit 1 when a Dockerfile does not declare the managed label the docker-images hook prunes by")
    .argument("[dockerfiles...]", "Dockerfiles to check", ["Dockerfile"])
    .option("--label <label>", "the managed label, key=value (default: RECLAIM_DOCKER_LABEL or reclaim.managed=true)")
    .action(async (files: string[], flags: { label?: string }) => {
      const label = flags.label ?? (io.env.RECLAIM_DOCKER_LABEL || DEFAULT_DOCKER_LABEL);
      if (!/^[^=\s]+(=.*)?$/.test(label)) throw new UsageError(`--label must look like key=value: current value is ${JSON.stringify(label)}`);
      const result = await checkDockerfileLabels(files.map((file) => resolve(io.cwd, file)), label);
      io.stdout(`${formatLabelCheck(result)}\n`);
      setCode(result.ok ? 0 : 1);
    });
}

function positiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("must be a whole number of at least 1.");
  return number;
}

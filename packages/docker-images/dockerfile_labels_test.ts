import { execFile } from "node:child_process";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { basename, join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, test } from "vitest";
import { checkDockerfileLabels, dockerfileLabels, formatLabelCheck } from "./dockerfile_labels.ts";

const LABEL = "reclaim.managed=true";
const declares = (source: string, target?: string): boolean =>
  Object.entries(dockerfileLabels(source, target === undefined ? {} : { target }).labels).some(([k, v]) => `${k}=${v}` === LABEL);

describe("dockerfileLabels()", () => {
  test("reads single and multi-key LABEL instructions", () => {
    expect(dockerfileLabels("FROM scratch\nLABEL a=b reclaim.managed=true c=d\n").labels).toEqual({ a: "b", "reclaim.managed": "true", c: "d" });
  });

  test("unquotes keys and values and keeps spaces inside quotes", () => {
    expect(dockerfileLabels(`FROM scratch\nLABEL "reclaim.managed"="true" 'desc'='two words' e="a \\"q\\""\n`).labels).toEqual({
      "reclaim.managed": "true",
      desc: "two words",
      e: 'a "q"',
    });
  });

  test("follows line continuations, lower-case instructions and the escape directive", () => {
    expect(declares("FROM scratch\nLABEL a=b \\\n    reclaim.managed=true\n")).toBe(true);
    expect(declares("from scratch\nlabel reclaim.managed=true\n")).toBe(true);
    expect(declares("# escape=`\nFROM scratch\nLABEL a=b `\n  reclaim.managed=true\n")).toBe(true);
  });

  test("reads the legacy 'LABEL key value' form", () => {
    expect(dockerfileLabels("FROM scratch\nLABEL reclaim.managed true\n").labels).toEqual({ "reclaim.managed": "true" });
  });

  test("ignores comments and ONBUILD LABEL, which only apply to images built from this one", () => {
    expect(declares("FROM scratch\n# LABEL reclaim.managed=true\nONBUILD LABEL reclaim.managed=true\n")).toBe(false);
  });

  test("gives the final stage only its own labels when it starts from an external image", () => {
    const source = "FROM scratch AS build\nLABEL reclaim.managed=true\nFROM node:20-slim\nCOPY --from=build /x /x\n";
    expect(dockerfileLabels(source)).toEqual({ labels: {}, stage: "#1", base: "node:20-slim" });
  });

  test("gives the final stage the labels of the stages it is built FROM, its own last", () => {
    const source = "FROM scratch AS Base\nLABEL reclaim.managed=true a=1\nFROM base AS mid\nLABEL a=2\nFROM mid\nLABEL b=3\n";
    expect(dockerfileLabels(source)).toEqual({ labels: { "reclaim.managed": "true", a: "2", b: "3" }, stage: "#2", base: "scratch" });
    expect(declares("FROM scratch AS base\nLABEL reclaim.managed=true\nFROM base\nLABEL reclaim.managed=false\n")).toBe(false);
  });

  test("builds the stage named by target, as docker build --target", () => {
    const source = "FROM scratch AS dev\nLABEL reclaim.managed=true\nFROM scratch AS prod\n";
    expect(declares(source)).toBe(false);
    expect(declares(source, "dev")).toBe(true);
    expect(() => dockerfileLabels(source, { target: "nope" })).toThrow(/no stage named "nope"/);
  });

  test("expands variables from ARG defaults and ENV, and leaves unknown ones as written", () => {
    expect(declares("FROM scratch\nARG MANAGED=true\nLABEL reclaim.managed=${MANAGED}\n")).toBe(true);
    expect(declares("FROM scratch\nENV M=true\nLABEL reclaim.managed=$M\n")).toBe(true);
    expect(declares("FROM scratch\nLABEL reclaim.managed=${UNSET:-true}\n")).toBe(true);
    expect(dockerfileLabels("FROM scratch\nARG MANAGED\nLABEL reclaim.managed=${MANAGED}\n").labels).toEqual({ "reclaim.managed": "${MANAGED}" });
    expect(dockerfileLabels("ARG BASE=alpine:3\nFROM ${BASE}\n").base).toBe("alpine:3");
  });
});

describe("dockerfileLabels() agrees with the Docker engine", () => {
  const run = promisify(execFile);
  const cases = {
    multiKeyQuotedContinued: `FROM scratch\nLABEL a=b "reclaim.managed"="true" \\\n  c='two words'\n`,
    multiStage: "FROM scratch AS base\nLABEL reclaim.managed=true a=1\nFROM base AS mid\nLABEL a=2\nFROM scratch AS other\nLABEL o=1\nFROM mid\nLABEL b=3\n",
    variables: "FROM scratch\nARG MANAGED=true\nENV E=env\nLABEL reclaim.managed=${MANAGED} e=$E d=${UNSET:-dflt}\n",
  };

  test.each(Object.entries(cases))("for %s", async (_name, source) => {
    await using dir = await tempDir("labels-build-");
    // Every stage carries a per-run label so that cleanup finds the images of stages the final one does not use.
    const fixture = `reclaim.fixture=${basename(dir.path)}`;
    const withFixture = source.replace(/^(FROM .*)$/gm, `$1\nLABEL ${fixture}`);
    await copyFile("/bin/busybox", join(dir.path, "busybox"));
    await writeFile(join(dir.path, "Dockerfile"), `${withFixture}COPY busybox /bin/busybox\n`);
    try {
      const { stdout } = await run("docker", ["build", "-q", dir.path]);
      const { stdout: inspected } = await run("docker", ["image", "inspect", "--format", "{{json .Config.Labels}}", stdout.trim()]);
      const engine = JSON.parse(inspected) as Record<string, string>;
      expect(dockerfileLabels(await readFile(join(dir.path, "Dockerfile"), "utf8")).labels).toEqual(engine);
    } finally {
      const { stdout: ids } = await run("docker", ["images", "-aq", "--filter", `label=${fixture}`]);
      if (ids.trim()) await run("docker", ["rmi", "-f", ...new Set(ids.trim().split("\n"))]).catch(() => undefined);
    }
  });
});

describe("checkDockerfileLabels()", () => {
  test("lists the Dockerfiles whose final image lacks the label, and formats the result", async () => {
    await using dir = await tempDir("labels-");
    const good = join(dir.path, "good.Dockerfile");
    const bad = join(dir.path, "bad.Dockerfile");
    const wrong = join(dir.path, "wrong.Dockerfile");
    const folder = join(dir.path, "svc");
    await writeFile(good, "FROM scratch\nLABEL reclaim.managed=true\n");
    await writeFile(bad, "FROM scratch AS b\nLABEL reclaim.managed=true\nFROM node:20-slim\n");
    await writeFile(wrong, "FROM scratch\nLABEL reclaim.managed=false\n");
    await mkdir(folder);
    await writeFile(join(folder, "Dockerfile"), "FROM scratch\nLABEL reclaim.managed=true\n");
    const absent = join(dir.path, "absent.Dockerfile");

    const result = await checkDockerfileLabels([good, bad, wrong, folder, absent], LABEL);

    expect(result.ok).toBe(false);
    expect(result.missing).toEqual([bad, wrong, absent]);
    expect(result.files.find((f) => f.path === absent)?.error).toMatch(/ENOENT/);
    const text = formatLabelCheck(result);
    expect(text).toContain(`ok       ${good}: declares reclaim.managed=true`);
    expect(text).toContain(`missing  ${bad}: does not declare reclaim.managed=true (final stage #1, FROM node:20-slim (labels of that image are not visible here))`);
    expect(text).toContain(`missing  ${wrong}: declares reclaim.managed=false, not reclaim.managed=true`);
    expect(text).toContain("3 of 5 Dockerfile(s) do not declare reclaim.managed=true");
  });

  test("accepts a bare key as 'any value', and is not ok without any file", async () => {
    await using dir = await tempDir("labels-");
    const file = join(dir.path, "Dockerfile");
    await writeFile(file, "FROM scratch\nLABEL cascade.managed=yes\n");
    expect((await checkDockerfileLabels([file], "cascade.managed")).ok).toBe(true);
    expect((await checkDockerfileLabels([file], "cascade.managed=true")).ok).toBe(false);
    expect((await checkDockerfileLabels([], "cascade.managed")).ok).toBe(false);
  });
});

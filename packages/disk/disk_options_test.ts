import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { OptionRangeError, parseOptions } from "@reclaim/core";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { diskOptionsSchema } from "./disk_options.ts";
import { resolveMediaPlan } from "./_media_plan.ts";

const parse = (mediaDirs: string[]) => parseOptions("disk", diskOptionsSchema, { root: "/data", mediaDirs });

describe("diskOptionsSchema mediaDirs", () => {
  it.each([".", "./", "./.", ".//", "././", ".\\"])("refuses %j: it is the root itself", (dir) => {
    expect(() => parse(["images", dir])).toThrow(OptionRangeError);
    expect(() => parse(["images", dir])).toThrow(
      `Cannot create disk hook as 'mediaDirs[1]' must be a folder inside the root, not the root itself (every file of the root, its stores, logs and keys included, would become deletable): current value is ${JSON.stringify(dir)}`,
    );
  });

  it.each(["images/..", "a/b/../..", "../data", "/data/images"])("refuses %j, which climbs out of a folder or is absolute", (dir) => {
    expect(() => parse([dir])).toThrow(/'mediaDirs\[0\]' must be a path relative to the root without '\.\.': current value is/);
  });

  it.each([
    [["images", "images"], `'mediaDirs[1]' must not repeat mediaDirs[0] ("images"): current value is "images"`],
    [["images", "./images/"], `'mediaDirs[1]' must not repeat mediaDirs[0] ("images"): current value is "./images/"`],
    [["images", "videos", "images/thumbs"], `'mediaDirs[2]' must not be inside mediaDirs[0] ("images"): current value is "images/thumbs"`],
    [["videos/hd", "images", "videos"], `'mediaDirs[2]' must not contain mediaDirs[0] ("videos/hd"): current value is "videos"`],
  ])("refuses overlapping media folders %j", (dirs, message) => {
    expect(() => parse(dirs)).toThrow(message);
  });

  it("accepts sibling folders that only share a prefix, and nested paths written with ./", () => {
    expect(parse(["images", "images-old", "./media/voice/", "bid-images"]).mediaDirs).toEqual(["images", "images-old", "./media/voice/", "bid-images"]);
  });
});

describe("resolveMediaPlan()", () => {
  it("refuses a media folder that resolves to the root itself, even past the options", async () => {
    await using dir = await tempDir("disk-plan-");
    await mkdir(join(dir.path, "images"));
    await mkdir(join(dir.path, "videos"));
    const plan = await resolveMediaPlan(dir.path, [".", "./", "images", "videos/"]);
    expect(plan?.mediaDirs).toEqual([join(plan!.root, "images"), join(plan!.root, "videos")]);
    expect(plan?.refused).toEqual([
      { dir: ".", reason: "is the root itself" },
      { dir: "./", reason: "is the root itself" },
    ]);
  });
});

import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { TEMP_MARKER } from "./temp_file.ts";
import { compileDeletionRules, compileProtect, mediaScopeFields, openDeletionScope, subFolders } from "./deletion_scope.ts";
import { OptionRangeError } from "./errors.ts";
import { parseOptions } from "./options.ts";
import { mountTmpfs, tempDir } from "./testing.ts";

const schema = z.strictObject({ ...mediaScopeFields });
const parse = (input: unknown) => parseOptions("test", schema, input);

describe("mediaScopeFields", () => {
  it("defaults to the four media folders and the three protect globs", () => {
    expect(parse({})).toEqual({ mediaDirs: ["images", "videos", "voice", "bid-images"], protect: ["*.json", "*keypair*", "*.key"] });
  });

  it.each([".", "./", "./.", ".//", ".\\"])("refuses the root itself as a media folder (%j)", (dir) => {
    expect(() => parse({ mediaDirs: [dir] })).toThrow(OptionRangeError);
    expect(() => parse({ mediaDirs: [dir] })).toThrow(/'mediaDirs\[0\]' must be a folder inside the root, not the root itself/);
  });

  it("refuses folders that climb out of the root, are absolute, repeat or overlap another", () => {
    expect(() => parse({ mediaDirs: ["../x"] })).toThrow(/'mediaDirs\[0\]' must be a path relative to the root without '\.\.'/);
    expect(() => parse({ mediaDirs: ["/data"] })).toThrow(/'mediaDirs\[0\]' must be a path relative to the root/);
    expect(() => parse({ mediaDirs: ["images", "./images/"] })).toThrow(`'mediaDirs[1]' must not repeat mediaDirs[0] ("images")`);
    expect(() => parse({ mediaDirs: ["images", "images/x"] })).toThrow(`'mediaDirs[1]' must not be inside mediaDirs[0] ("images")`);
    expect(() => parseOptions("test", z.strictObject({ allowed: subFolders("allowed") }), { allowed: ["a/b", "a"] })).toThrow(`'allowed[1]' must not contain allowed[0] ("a/b")`);
  });
});

describe("compileProtect()", () => {
  it("matches slash-less globs against the name anywhere and slashed globs against the root-relative path, dot files included", () => {
    const protect = compileProtect(["*.json", "*.key", "videos/keep/**"]);
    expect(protect.match("images/meta.json")).toBe("*.json");
    expect(protect.match("images/.id.key")).toBe("*.key");
    expect(protect.match("videos/keep/a/b.mp4")).toBe("videos/keep/**");
    expect(protect.match("videos/a.mp4")).toBeNull();
    expect(protect.match("events.jsonl")).toBeNull();
  });
});

describe("compileDeletionRules()", () => {
  it("allows only files inside a folder that are not protected, reserved or temporary", () => {
    const rules = compileDeletionRules({ folders: ["images", "./media/voice/"], reserved: [{ path: "images/journal.log", reason: "the journal" }] });
    expect(rules.refusal("images/a.png")).toBeNull();
    expect(rules.refusal("media/voice/x/y.ogg")).toBeNull();
    expect(rules.refusal("images-old/a.png")).toBe("not inside an allowed folder");
    expect(rules.refusal("events.jsonl")).toBe("not inside an allowed folder");
    expect(rules.refusal("images/posts.json")).toBe('protected (matches "*.json")');
    expect(rules.refusal(`images/.a.png${TEMP_MARKER}1-00`)).toBe("a temporary file being written");
    expect(rules.refusal("images/journal.log")).toBe("the journal");
    expect(rules.refusal("images/journal.log.state")).toBe("the journal");
  });

  it("allows nothing through a folder that is the root itself, even when the options were not validated", () => {
    const rules = compileDeletionRules({ folders: ["."] });
    expect(rules.refusal("events.jsonl")).toBe("not inside an allowed folder");
    expect(rules.refusal("images/a.png")).toBe("not inside an allowed folder");
  });
});

describe("openDeletionScope()", () => {
  it("resolves the root, keeps real sub-folders and refuses the root itself, symlinked folders and files", async () => {
    await using dir = await tempDir("scope-");
    await using outside = await tempDir("scope-outside-");
    await mkdir(join(dir.path, "images"));
    await writeFile(join(dir.path, "images", "a.png"), "a");
    await writeFile(join(dir.path, "events.jsonl"), "{}\n");
    await writeFile(join(outside.path, "victim.png"), "v");
    await symlink(outside.path, join(dir.path, "videos"));
    await symlink(join(outside.path, "victim.png"), join(dir.path, "images", "link.png"));
    await mkdir(join(dir.path, "images", "sub"));
    await symlink(outside.path, join(dir.path, "images", "escape"));

    await mkdir(join(dir.path, "..media"));
    const scope = await openDeletionScope(dir.path, { folders: [".", "images", "videos", "voice", "../x", "..media"] });
    expect(scope?.folders).toEqual([join(scope!.root, "images"), join(scope!.root, "..media")]);
    expect(scope?.refusedFolders).toEqual([
      { dir: ".", reason: "is the root itself" },
      { dir: "videos", reason: "is a symlink (never followed)" },
      { dir: "../x", reason: "is outside the root" },
    ]);
    expect(await scope!.check("images/a.png")).toMatchObject({ ok: true, rel: "images/a.png", path: join(scope!.root, "images", "a.png") });
    expect(await scope!.check(join(scope!.root, "images", "a.png"))).toMatchObject({ ok: true });
    expect(await scope!.check("events.jsonl")).toEqual({ ok: false, reason: "not inside an allowed folder" });
    expect(await scope!.check("images/../events.jsonl")).toEqual({ ok: false, reason: "not inside an allowed folder" });
    expect(await scope!.check("../x")).toEqual({ ok: false, reason: "outside the root" });
    expect(await scope!.check(join(outside.path, "victim.png"))).toEqual({ ok: false, reason: "outside the root" });
    expect(await scope!.check("videos/victim.png")).toEqual({ ok: false, reason: "reached through a symlink" });
    expect(await scope!.check("images/link.png")).toEqual({ ok: false, reason: "a symlink (never followed)" });
    expect(await scope!.check("images/escape/victim.png")).toEqual({ ok: false, reason: "reached through a symlink" });
    expect(await scope!.check("images/sub")).toEqual({ ok: false, reason: "not a regular file" });
    expect(await scope!.check("images/gone.png")).toEqual({ ok: false, reason: "already gone", gone: true });
  });

  it("returns null for a missing root", async () => {
    await using dir = await tempDir("scope-");
    expect(await openDeletionScope(join(dir.path, "nope"), { folders: ["images"] })).toBeNull();
  });

  it("never deletes on another filesystem: a folder mounted there is refused, and so is a file under a mount inside a folder", async (ctx) => {
    const tmpfs = await mountTmpfs(1024 * 1024);
    if (typeof tmpfs === "string") return ctx.skip(tmpfs);
    await using mounted = tmpfs;
    await using dir = await tempDir("scope-");
    await mkdir(join(dir.path, "images"));
    await writeFile(join(mounted.path, "a.png"), "a");
    // A bind mount of the tmpfs inside the media folder: same path shape, another filesystem.
    const { execFileSync } = await import("node:child_process");
    await mkdir(join(dir.path, "images", "mnt"));
    await mkdir(join(dir.path, "videos"));
    execFileSync("mount", ["--bind", mounted.path, join(dir.path, "images", "mnt")]);
    execFileSync("mount", ["--bind", mounted.path, join(dir.path, "videos")]);
    await using _ = {
      [Symbol.asyncDispose]: async () => {
        execFileSync("umount", ["-l", join(dir.path, "images", "mnt")]);
        execFileSync("umount", ["-l", join(dir.path, "videos")]);
      },
    };
    const scope = await openDeletionScope(dir.path, { folders: ["images", "videos"] });
    expect(scope?.refusedFolders).toEqual([{ dir: "videos", reason: "is on another filesystem than the root" }]);
    expect(await scope!.check("images/mnt/a.png")).toEqual({ ok: false, reason: "on another filesystem than the root" });
  });
});

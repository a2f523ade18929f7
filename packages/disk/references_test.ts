import { readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { pruneReferences, readReferences, referencedPath } from "./references.ts";

describe("referencedPath()", () => {
  it.each([
    ["images/a.png", "images/a.png"],
    ["./images/a.png", "images/a.png"],
    ["/images/a.png", "images/a.png"],
    ["/images/a.png?v=2#top", "images/a.png"],
    ["/images/my%20file.png", "images/my file.png"],
    ["/images/../videos/a.mp4", "videos/a.mp4"],
  ])("reads the local path %j as %j", (value, expected) => {
    expect(referencedPath(value)).toBe(expected);
  });

  it.each(["https://cdn.example/images/a.png", "//cdn.example/images/a.png", "data:image/png;base64,AAAA", "../outside.png", "/", "", 42, null])(
    "does not treat %j as a local file",
    (value) => {
      expect(referencedPath(value)).toBeNull();
    },
  );

  it("maps configured base URLs onto the root", () => {
    expect(referencedPath("http://localhost:3000/images/a.png", ["http://localhost:3000/"])).toBe("images/a.png");
    expect(referencedPath("/static/images/a.png", ["/static/"])).toBe("images/a.png");
    expect(referencedPath("http://other:3000/images/a.png", ["http://localhost:3000/"])).toBeNull();
  });
});

describe("pruneReferences()", () => {
  it("clears matching fields in every store and keeps the rest byte for byte", async () => {
    await using dir = await tempDir("refs-");
    await writeFile(join(dir.path, "posts.json"), JSON.stringify({ posts: [{ imageUrl: "/images/a.png", title: "x" }, { imageUrl: "/videos/a.png" }] }));
    const cartoons = JSON.stringify([{ imageUrl: "/images/b.png" }], null, "\t");
    await writeFile(join(dir.path, "cartoons.json"), cartoons);
    const result = await pruneReferences(dir.path, new Set(["images/a.png"]), { stores: ["posts.json", "cartoons.json", "missing.json"], fields: ["imageUrl"] });
    expect(result).toEqual({ cleared: 1, stores: { "posts.json": 1 }, problems: [] });
    expect(JSON.parse(await readFile(join(dir.path, "posts.json"), "utf8"))).toEqual({ posts: [{ imageUrl: null, title: "x" }, { imageUrl: "/videos/a.png" }] });
    expect(await readFile(join(dir.path, "cartoons.json"), "utf8")).toBe(cartoons);
  });

  it("dry run counts without writing", async () => {
    await using dir = await tempDir("refs-");
    const text = JSON.stringify([{ imageUrl: "/images/a.png" }]);
    await writeFile(join(dir.path, "posts.json"), text);
    const result = await pruneReferences(dir.path, new Set(["images/a.png"]), { stores: ["posts.json"], fields: ["imageUrl"], dryRun: true });
    expect(result.cleared).toBe(1);
    expect(await readFile(join(dir.path, "posts.json"), "utf8")).toBe(text);
  });

  it("refuses to rewrite a store that is a symlink", async () => {
    await using dir = await tempDir("refs-");
    await writeFile(join(dir.path, "real.json"), JSON.stringify([{ imageUrl: "/images/a.png" }]));
    await symlink(join(dir.path, "real.json"), join(dir.path, "posts.json"));
    const result = await pruneReferences(dir.path, new Set(["images/a.png"]), { stores: ["posts.json"], fields: ["imageUrl"] });
    expect(result.problems).toEqual([{ store: "posts.json", reason: "is a symlink; left untouched" }]);
    expect(result.cleared).toBe(0);
  });

  it("changes only the cleared values: big integers, decimals, key order, indentation and escapes survive byte for byte", async () => {
    await using dir = await tempDir("refs-");
    const store = [
      "{\r",
      '   "version": 1.10, "id": 1234567890123456789, "ratio": 1e2,\r',
      '   "posts": [ { "title": "caf\\u00e9 \u{1F600}", "imageUrl":   "/images/a.png?v=1",\r',
      '                "z": -0.0, "videoUrl": "/videos/keep.mp4", "a": [] },\r',
      '              {"imageUrl":"http://localhost:3000/images/a.png","nested":{"image\\u0055rl":"./images/b.png"}},\r',
      '              {"imageUrl": {"imageUrl": "/images/b.png"}, "title": "imageUrl", "list": ["/images/a.png"]} ]\r',
      "}",
    ].join("\n");
    await writeFile(join(dir.path, "posts.json"), store);
    const result = await pruneReferences(dir.path, new Set(["images/a.png", "images/b.png"]), {
      stores: ["posts.json"],
      fields: ["imageUrl", "videoUrl"],
      baseUrls: ["http://localhost:3000/"],
    });
    expect(result).toEqual({ cleared: 4, stores: { "posts.json": 4 }, problems: [] });
    const expected = store
      .replace('"imageUrl":   "/images/a.png?v=1"', '"imageUrl":   null')
      .replace('"imageUrl":"http://localhost:3000/images/a.png"', '"imageUrl":null')
      .replace('"image\\u0055rl":"./images/b.png"', '"image\\u0055rl":null')
      .replace('{"imageUrl": "/images/b.png"}', '{"imageUrl": null}');
    expect(await readFile(join(dir.path, "posts.json"), "utf8")).toBe(expected);
    expect(expected).toContain('"id": 1234567890123456789');
    expect(expected).toContain('"list": ["/images/a.png"]');
  });

  it.each([
    ["a trailing comma", '[{"imageUrl": "/images/a.png"},]'],
    ["a comment", '[{"imageUrl": "/images/a.png"} // first\n]'],
    ["a single-quoted string", "[{'imageUrl': '/images/a.png'}]"],
    ["a truncated write", '[{"imageUrl": "/images/a.png"}, {"imageUrl": "/ima'],
  ])("leaves a store with %s untouched and reports it", async (_, text) => {
    await using dir = await tempDir("refs-");
    await writeFile(join(dir.path, "posts.json"), text);
    const result = await pruneReferences(dir.path, new Set(["images/a.png"]), { stores: ["posts.json"], fields: ["imageUrl"] });
    expect(result.cleared).toBe(0);
    expect(result.problems).toEqual([{ store: "posts.json", reason: expect.stringMatching(/^does not parse as JSON: /) }]);
    expect(await readFile(join(dir.path, "posts.json"), "utf8")).toBe(text);
  });

  it("leaves a store that is not valid UTF-8 untouched, byte for byte", async () => {
    await using dir = await tempDir("refs-");
    const bytes = Buffer.concat([Buffer.from('[{"title": "'), Buffer.from([0xff, 0xfe]), Buffer.from('", "imageUrl": "/images/a.png"}]')]);
    await writeFile(join(dir.path, "posts.json"), bytes);
    const result = await pruneReferences(dir.path, new Set(["images/a.png"]), { stores: ["posts.json"], fields: ["imageUrl"] });
    expect(result).toEqual({ cleared: 0, stores: {}, problems: [{ store: "posts.json", reason: "is not valid UTF-8" }] });
    expect((await readFile(join(dir.path, "posts.json"))).equals(bytes)).toBe(true);
  });

  it("readReferences() lists referenced paths and reports unparsable stores", async () => {
    await using dir = await tempDir("refs-");
    await writeFile(join(dir.path, "posts.json"), JSON.stringify([{ imageUrl: "/images/a.png", videoUrl: "https://cdn/x.mp4" }]));
    await writeFile(join(dir.path, "bad.json"), "{");
    const { paths, problems } = await readReferences(dir.path, { stores: ["posts.json", "bad.json"], fields: ["imageUrl", "videoUrl"] });
    expect([...paths]).toEqual(["images/a.png"]);
    expect(problems.map((p) => p.store)).toEqual(["bad.json"]);
  });
});

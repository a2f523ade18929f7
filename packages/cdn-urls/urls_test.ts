import { describe, expect, it } from "vitest";
import { rewriteJsonStrings, storedPathRewriter, toPublicUrl, toStoredPath } from "./urls.ts";

const hosts = ["cdn.example.ai", "cdn-dev.example.ai"];

describe("toStoredPath()", () => {
  it.each([
    ["https://cdn.example.ai/generations/u/image.png", "/generations/u/image.png"],
    ["http://cdn.example.ai/generations/u/image.png", "/generations/u/image.png"],
    ["//cdn-dev.example.ai/generations/u/image.png", "/generations/u/image.png"],
    ["HTTPS://CDN.Example.AI/Generations/U.png", "/Generations/U.png"],
    ["https://cdn.example.ai:8443/a.png", "/a.png"],
    ["https://cdn.example.ai/a%20b/%E2%9C%93.png?x=%2F&y=1#frag", "/a%20b/%E2%9C%93.png?x=%2F&y=1#frag"],
    ["https://cdn.example.ai", "/"],
    ["https://cdn.example.ai?v=1", "/?v=1"],
    ["https://cdn.example.ai./a.png", "/a.png"],
  ])("turns %s on a CDN host into %s", (url, path) => {
    expect(toStoredPath(url, { hosts })).toBe(path);
  });

  it.each([
    ["https://other.example.ai/a.png"],
    ["https://cdn.example.ai.evil.com/a.png"],
    ["https://user@cdn.example.ai/a.png"],
    ["ftp://cdn.example.ai/a.png"],
    ["/generations/u/image.png"],
    ["generations/u/image.png"],
    ["data:image/png;base64,iVBORw0KGgo="],
    ["blob:https://cdn.example.ai/1b6c-4f"],
    ["https://cdn.example.ai//double.example.com/a.png"],
    [""],
  ])("leaves %s unchanged", (url) => {
    expect(toStoredPath(url, { hosts })).toBe(url);
  });

  it("matches a host given with a port only on that port (or the scheme's default when it is that port)", () => {
    expect(toStoredPath("https://cdn.example.ai:8443/a.png", { hosts: ["cdn.example.ai:8443"] })).toBe("/a.png");
    expect(toStoredPath("https://cdn.example.ai/a.png", { hosts: ["cdn.example.ai:8443"] })).toBe("https://cdn.example.ai/a.png");
    expect(toStoredPath("https://cdn.example.ai/a.png", { hosts: ["cdn.example.ai:443"] })).toBe("/a.png");
  });

  it("accepts hosts written as URLs and in any case", () => {
    expect(toStoredPath("https://cdn.example.ai/a.png", { hosts: ["HTTPS://CDN.EXAMPLE.AI/"] })).toBe("/a.png");
  });

  it("is idempotent on every case", () => {
    for (const url of ["https://cdn.example.ai/a.png?q#f", "//CDN-DEV.example.ai/b", "https://cdn.example.ai", "data:x", "/c.png"]) {
      const once = toStoredPath(url, { hosts });
      expect(toStoredPath(once, { hosts })).toBe(once);
    }
  });

  it("storedPathRewriter() answers undefined for a value it leaves alone", () => {
    const rewrite = storedPathRewriter({ hosts });
    expect(rewrite("/a.png")).toBeUndefined();
    expect(rewrite("https://cdn.example.ai/a.png")).toBe("/a.png");
  });
});

describe("toPublicUrl()", () => {
  it.each([
    ["/generations/u/image.png", "https://cdn.example.ai", "https://cdn.example.ai/generations/u/image.png"],
    ["/generations/u/image.png", "https://cdn.example.ai/", "https://cdn.example.ai/generations/u/image.png"],
    ["generations/u/image.png", "https://cdn.example.ai/", "https://cdn.example.ai/generations/u/image.png"],
    ["/a%20b.png?w=1#f", "https://cdn.example.ai/assets/", "https://cdn.example.ai/assets/a%20b.png?w=1#f"],
    ["/a.png", "http://localhost:8080", "http://localhost:8080/a.png"],
    ["/a.png", "", "/a.png"],
  ])("joins the stored path %s to base %s", (path, base, url) => {
    expect(toPublicUrl(path, { base })).toBe(url);
  });

  it.each([
    ["https://elsewhere.example.com/a.png"],
    ["//elsewhere.example.com/a.png"],
    ["data:image/png;base64,iVBORw0KGgo="],
    ["blob:https://cdn.example.ai/1b6c-4f"],
    [""],
  ])("returns the full URL %s unchanged", (url) => {
    expect(toPublicUrl(url, { base: "https://cdn.example.ai", hosts })).toBe(url);
  });

  it("moves a full URL on an old host onto the base, keeping query and fragment", () => {
    expect(toPublicUrl("https://cdn-dev.example.ai/a.png?w=1#f", { base: "https://cdn.example.ai/", hosts })).toBe("https://cdn.example.ai/a.png?w=1#f");
    expect(toPublicUrl("//CDN-DEV.example.ai:443/a.png", { base: "https://cdn.example.ai", hosts })).toBe("https://cdn.example.ai/a.png");
  });

  it("is idempotent, also when the base is one of the old hosts and carries a path", () => {
    const options = { base: "https://cdn.example.ai/assets/", hosts };
    for (const value of ["/a.png", "a.png", "https://cdn-dev.example.ai/a.png", "https://cdn.example.ai/assets/a.png", "data:x"]) {
      const once = toPublicUrl(value, options);
      expect(toPublicUrl(once, options)).toBe(once);
    }
  });

  it("round-trips with toStoredPath()", () => {
    const url = "https://cdn.example.ai/generations/u/i%C3%A9.png?w=64#top";
    expect(toPublicUrl(toStoredPath(url, { hosts }), { base: "https://cdn.example.ai" })).toBe(url);
  });
});

describe("rewriteJsonStrings()", () => {
  const rewrite = storedPathRewriter({ hosts });

  it("rewrites every string value at any depth and leaves keys, numbers and layout as they were", () => {
    const text = '{ "https://cdn.example.ai/key": "https://cdn.example.ai/a.png", "n": 12345678901234567890,\n "list": [1, "//cdn-dev.example.ai/b.png?x=1", {"deep": ["https:\\/\\/cdn.example.ai\\/c.png"]}], "other": "https://x.com/" }';
    const result = rewriteJsonStrings(text, rewrite);
    expect(result?.values).toBe(3);
    expect(result?.text).toBe('{ "https://cdn.example.ai/key": "/a.png", "n": 12345678901234567890,\n "list": [1, "/b.png?x=1", {"deep": ["/c.png"]}], "other": "https://x.com/" }');
    expect(JSON.parse(result?.text ?? "")).toMatchObject({ list: [1, "/b.png?x=1", { deep: ["/c.png"] }] });
  });

  it("answers undefined when no value changes, and changes nothing the second time", () => {
    expect(rewriteJsonStrings('{"a":"/a.png","b":"say \\"hi\\""}', rewrite)).toBeUndefined();
    const once = rewriteJsonStrings('["https://cdn.example.ai/a.png"]', rewrite);
    expect(once?.text).toBe('["/a.png"]');
    expect(rewriteJsonStrings(once?.text ?? "", rewrite)).toBeUndefined();
  });

  it("handles a top-level string and escaped quotes inside values", () => {
    expect(rewriteJsonStrings('"https://cdn.example.ai/a \\"q\\".png"', rewrite)?.text).toBe('"/a \\"q\\".png"');
  });
});

describe("the urls entry", () => {
  it("imports nothing from Node", async () => {
    const { readFile } = await import("node:fs/promises");
    const source = await readFile(new URL("./urls.ts", import.meta.url), "utf8");
    expect(source).not.toMatch(/from\s+["'](node:|fs|path|url|pg)/);
    expect(source).not.toMatch(/\bimport\b.*\bfrom\b/);
  });
});

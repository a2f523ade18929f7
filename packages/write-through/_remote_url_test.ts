import { describe, expect, it } from "vitest";
import { parseRemoteBase, trustedUrl, urlForPath } from "./_remote_url.ts";

describe("trustedUrl()", () => {
  const base = parseRemoteBase("https://cdn.example.com");

  it("accepts URLs on the base's origin, with or without a trailing slash on the base", () => {
    expect(trustedUrl("https://cdn.example.com/images/a.png", base)).toBe("https://cdn.example.com/images/a.png");
    expect(trustedUrl("https://CDN.example.com:443/images/a.png", parseRemoteBase("https://cdn.example.com/"))).toBe("https://cdn.example.com/images/a.png");
  });

  it("refuses another host that merely starts with the base string", () => {
    for (const url of [
      "https://cdn.example.com.attacker.net/x",
      "https://cdn.example.com:8443/x",
      "https://cdn.example.com@attacker.net/x",
      "https://user@cdn.example.com/x",
      "http://cdn.example.com/x",
      "https://cdn.example.comx/x",
      "not a url",
    ]) {
      expect(trustedUrl(url, base), url).toBeNull();
    }
  });

  it("requires the path to be under the base's path, after resolving '..'", () => {
    const media = parseRemoteBase("https://cdn.example.com/media");
    expect(media.path).toBe("/media/");
    expect(trustedUrl("https://cdn.example.com/media/images/a.png", media)).toBe("https://cdn.example.com/media/images/a.png");
    expect(trustedUrl("https://cdn.example.com/media-private/a.png", media)).toBeNull();
    expect(trustedUrl("https://cdn.example.com/media", media)).toBeNull();
    expect(trustedUrl("https://cdn.example.com/media/../secret/a.png", media)).toBeNull();
    expect(trustedUrl("https://cdn.example.com/media/%2e%2e/secret/a.png", media)).toBeNull();
  });
});

describe("urlForPath()", () => {
  it("percent-encodes each segment and keeps the slashes", () => {
    expect(urlForPath(parseRemoteBase("https://cdn.example.com/media"), "/images/a#b?c d%.png")).toBe("https://cdn.example.com/media/images/a%23b%3Fc%20d%25.png");
  });
});

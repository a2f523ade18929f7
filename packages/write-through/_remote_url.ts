/** A parsed `remote.baseUrl`: the origin and the path every trusted URL must start with (ending in `/`). */
export interface RemoteBase {
  /** `protocol//host[:port]`, as `URL.origin` (lower-cased host, default port dropped). */
  origin: string;
  /** The base's path, normalised to end in `/`. */
  path: string;
}

/**
 * Parses `remote.baseUrl`. `https://cdn.example.com` and `https://cdn.example.com/` are the same base; a base
 * with a path (`https://cdn.example.com/media`) trusts `/media/...` only, never `/media-private/...`.
 *
 * @example
 * ```ts
 * parseRemoteBase("https://cdn.example.com/media"); // { origin: "https://cdn.example.com", path: "/media/" }
 * ```
 */
export function parseRemoteBase(baseUrl: string): RemoteBase {
  const url = new URL(baseUrl);
  return { origin: url.origin, path: url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/` };
}

/**
 * Returns the normalised URL when `url` is an http(s) URL on the base's origin (protocol, host and port) under
 * its path, or `null`. Compares parsed URLs, never string prefixes: `https://cdn.example.com.attacker.net/x`,
 * `https://cdn.example.com:8443/x` and `https://cdn.example.com@attacker.net/x` are not under
 * `https://cdn.example.com`. `..` segments are resolved before the path is compared.
 *
 * @example
 * ```ts
 * const base = parseRemoteBase("https://cdn.example.com");
 * trustedUrl("https://cdn.example.com/images/a.png", base);     // "https://cdn.example.com/images/a.png"
 * trustedUrl("https://cdn.example.com.attacker.net/x", base);   // null
 * ```
 */
export function trustedUrl(url: string, base: RemoteBase): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  if (parsed.username !== "" || parsed.password !== "") return null;
  if (parsed.origin !== base.origin || !parsed.pathname.startsWith(base.path)) return null;
  return parsed.href;
}

/**
 * The remote URL of a journal path without `url`: the base followed by the path, each segment percent-encoded
 * (`images/a#b.png` becomes `…/images/a%23b.png`, not `…/images/a`). Leading slashes are dropped.
 *
 * @example
 * ```ts
 * urlForPath(parseRemoteBase("https://cdn.example.com/media"), "images/a b#1.png"); // "https://cdn.example.com/media/images/a%20b%231.png"
 * ```
 */
export function urlForPath(base: RemoteBase, path: string): string {
  return base.origin + base.path + path.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/");
}

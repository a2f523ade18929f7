/**
 * URL helpers for the transition from stored full CDN URLs to stored paths. No Node-only imports: this file is the
 * `@reclaim/cdn-urls/urls` entry, safe in a browser bundle.
 *
 * @module
 */

/** Options of {@link toStoredPath}. */
export interface StoredPathOptions {
  /**
   * The CDN hosts whose URLs become paths: `cdn.example.ai`, `cdn.example.ai:8443` or `https://cdn.example.ai/`.
   * A host without a port matches that host on any port; case does not matter.
   */
  hosts: readonly string[];
}

/** Options of {@link toPublicUrl}. */
export interface PublicUrlOptions {
  /** The public base the paths are served from (`CDN_URL`), with or without a trailing slash; may carry a path. */
  base: string;
  /** Old CDN hosts: a full URL on one of them is moved onto `base` too. @default [] */
  hosts?: readonly string[];
}

const URL_WITH_AUTHORITY = /^(?:([a-z][a-z0-9+.-]*):)?\/\/([^/?#]*)([\s\S]*)$/i;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: "80", https: "443" };

interface HostPattern {
  host: string;
  port: string | undefined;
}

function hostPatterns(hosts: readonly string[]): HostPattern[] {
  return hosts.map((entry) => {
    const authority = entry.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/^\/\//, "").replace(/[/?#].*$/s, "");
    const { host, port } = splitAuthority(authority);
    return { host, port };
  });
}

function splitAuthority(authority: string): { host: string; port: string | undefined } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  const host = (match?.[1] ?? authority).toLowerCase().replace(/\.$/, "");
  const port = match?.[2] === undefined || match[2] === "" ? undefined : match[2];
  return { host, port };
}

function onHosts(scheme: string | undefined, authority: string, patterns: readonly HostPattern[]): boolean {
  if (authority.includes("@")) return false;
  const { host, port } = splitAuthority(authority);
  const effectivePort = port ?? (scheme ? DEFAULT_PORTS[scheme.toLowerCase()] : undefined);
  return patterns.some((pattern) => pattern.host === host && (pattern.port === undefined || pattern.port === (port ?? effectivePort)));
}

/**
 * Turns a URL on one of the CDN `hosts` into the path it stores (path, query and fragment kept, percent-encoding
 * untouched) and returns anything else unchanged: other hosts, paths, `data:` and `blob:` URLs, non-strings.
 * `http:`, `https:` and protocol-relative `//host/...` URLs are recognised. Idempotent. A URL whose path starts with
 * `//` stays as it is (its path alone would read as a protocol-relative URL).
 *
 * @example
 * ```ts
 * toStoredPath("https://CDN.example.ai/generations/u/image.png?w=64#x", { hosts: ["cdn.example.ai"] });
 * // "/generations/u/image.png?w=64#x"
 * ```
 */
export function toStoredPath(url: string, options: StoredPathOptions): string {
  return rewriteOne(url, hostPatterns(options.hosts)) ?? url;
}

/**
 * A function that applies {@link toStoredPath} with the host list parsed once; it returns `undefined` when the value
 * stays as it is. Used by the backfill on every value it reads.
 *
 * @example
 * ```ts
 * const rewrite = storedPathRewriter({ hosts: ["cdn.example.ai"] });
 * rewrite("//cdn.example.ai/a.png"); // "/a.png"
 * rewrite("/a.png");                 // undefined
 * ```
 */
export function storedPathRewriter(options: StoredPathOptions): (value: string) => string | undefined {
  const patterns = hostPatterns(options.hosts);
  return (value) => rewriteOne(value, patterns);
}

function rewriteOne(url: string, patterns: readonly HostPattern[]): string | undefined {
  if (typeof url !== "string") return undefined;
  const match = URL_WITH_AUTHORITY.exec(url);
  if (!match) return undefined;
  const [, scheme, authority = "", rest = ""] = match;
  if (scheme !== undefined && !/^https?$/i.test(scheme)) return undefined;
  if (!onHosts(scheme, authority, patterns)) return undefined;
  if (rest.startsWith("//")) return undefined;
  if (rest === "") return "/";
  return rest.startsWith("/") ? rest : `/${rest}`;
}

/**
 * The public URL of a stored path (or of a full URL) for `base`: a path is joined to `base` with exactly one slash
 * between them; a full URL is returned as it is unless it is on one of the old `hosts`, which moves it onto `base`.
 * `data:`, `blob:` and other URLs with a scheme are left alone. Idempotent.
 *
 * @example
 * ```ts
 * toPublicUrl("/generations/u/image.png", { base: "https://cdn.example.ai/" });
 * // "https://cdn.example.ai/generations/u/image.png"
 * toPublicUrl("https://cdn-dev.example.ai/a.png", { base: "https://cdn.example.ai", hosts: ["cdn-dev.example.ai"] });
 * // "https://cdn.example.ai/a.png"
 * ```
 */
export function toPublicUrl(pathOrUrl: string, options: PublicUrlOptions): string {
  if (typeof pathOrUrl !== "string" || pathOrUrl === "") return pathOrUrl;
  const base = options.base.replace(/\/+$/, "");
  let path = pathOrUrl;
  if (SCHEME.test(pathOrUrl) || pathOrUrl.startsWith("//")) {
    if (base !== "" && (pathOrUrl === base || pathOrUrl.startsWith(`${base}/`) || pathOrUrl.startsWith(`${base}?`) || pathOrUrl.startsWith(`${base}#`))) return pathOrUrl;
    const stored = options.hosts && options.hosts.length > 0 ? rewriteOne(pathOrUrl, hostPatterns(options.hosts)) : undefined;
    if (stored === undefined) return pathOrUrl;
    path = stored;
  }
  if (base === "") return path.startsWith("/") ? path : `/${path}`;
  return path.startsWith("/") ? `${base}${path}` : `${base}/${path}`;
}

/**
 * Applies `rewrite` to every string value of a JSON text (at any depth, object keys excluded) and returns the new
 * text, or `undefined` when nothing changed. Everything else — numbers of any size, key order, whitespace, escapes
 * of untouched strings — is kept byte for byte, so a `json` column keeps its exact text.
 *
 * @example
 * ```ts
 * rewriteJsonStrings('{"url":"https://cdn.example.ai/a.png","n":12345678901234567890}', storedPathRewriter({ hosts: ["cdn.example.ai"] }));
 * // '{"url":"/a.png","n":12345678901234567890}'
 * ```
 */
export function rewriteJsonStrings(text: string, rewrite: (value: string) => string | undefined): { text: string; values: number } | undefined {
  let out = "";
  let copied = 0;
  let values = 0;
  let i = 0;
  const length = text.length;
  while (i < length) {
    if (text.charCodeAt(i) !== 34 /* " */) {
      i++;
      continue;
    }
    const start = i;
    i++;
    while (i < length) {
      const code = text.charCodeAt(i);
      if (code === 92 /* \ */) i += 2;
      else if (code === 34) break;
      else i++;
    }
    const end = i + 1;
    i = end;
    let next = end;
    while (next < length && /\s/.test(text[next] as string)) next++;
    if (text[next] === ":") continue; // an object key
    const literal = text.slice(start, end);
    const value = literal.includes("\\") ? (JSON.parse(literal) as string) : literal.slice(1, -1);
    const replaced = rewrite(value);
    if (replaced === undefined || replaced === value) continue;
    out += text.slice(copied, start) + JSON.stringify(replaced);
    copied = end;
    values++;
  }
  if (values === 0) return undefined;
  return { text: out + text.slice(copied), values };
}

/** A Redis glob (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes) compiled for matching key names. */
export interface KeyPattern {
  /** The glob as written. */
  readonly source: string;
  /** Anchored regular expression; each `*` is a capture group, in order (`{1}`, `{2}`, ... in templates). */
  readonly regex: RegExp;
  /** Number of `*` wildcards (capture groups). */
  readonly stars: number;
  /** True when the glob has no special character: it names exactly one key. */
  readonly literal: boolean;
  /** That key (escapes removed), when `literal`. */
  readonly key: string;
}

/** Compiles a Redis glob (the syntax of `SCAN MATCH` / `KEYS`) into an anchored regular expression. */
export function compilePattern(glob: string): KeyPattern {
  let out = "";
  let key = "";
  let stars = 0;
  let literal = true;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "\\" && i + 1 < glob.length) {
      key += glob[i + 1]!;
      out += escapeRegExp(glob[++i]!);
    } else if (c === "*") {
      out += "([\\s\\S]*)";
      stars++;
      literal = false;
    } else if (c === "?") {
      out += "[\\s\\S]";
      literal = false;
    } else if (c === "[") {
      const end = closingBracket(glob, i);
      if (end < 0) {
        key += "[";
        out += "\\[";
        continue;
      }
      literal = false;
      let body = glob.slice(i + 1, end);
      let negate = false;
      if (body.startsWith("^")) {
        negate = true;
        body = body.slice(1);
      }
      let cls = "";
      for (let j = 0; j < body.length; j++) {
        const b = body[j]!;
        if (b === "\\" && j + 1 < body.length) cls += escapeClass(body[++j]!);
        else if (b === "-" && j > 0 && j + 1 < body.length) cls += "-";
        else cls += escapeClass(b);
      }
      out += cls === "" ? (negate ? "[\\s\\S]" : "(?!)") : `[${negate ? "^" : ""}${cls}]`;
      i = end;
    } else {
      key += c;
      out += escapeRegExp(c);
    }
  }
  return { source: glob, regex: new RegExp(`^${out}$`), stars, literal, key };
}

/** The captures of each `*` when `key` matches, else `undefined`. */
export function matchKey(pattern: KeyPattern, key: string): string[] | undefined {
  const m = pattern.regex.exec(key);
  return m ? m.slice(1) : undefined;
}

/** Highest `{n}` placeholder used in a template (0 when none). */
export function highestPlaceholder(template: string): number {
  let max = 0;
  for (const m of template.matchAll(/\{(\d+)\}/g)) max = Math.max(max, Number(m[1]));
  return max;
}

/**
 * Fills `{1}`, `{2}`, ... with the captures of a match and `{member}` with an index member. Anything else in braces
 * (a Redis hash tag such as `{user42}`) is kept as written.
 */
export function fillTemplate(template: string, captures: readonly string[], member?: string): string {
  return template.replace(/\{(member|\d+)\}/g, (whole, name: string) => {
    if (name === "member") return member ?? whole;
    return captures[Number(name) - 1] ?? whole;
  });
}

function closingBracket(glob: string, open: number): number {
  for (let i = open + 1; i < glob.length; i++) {
    if (glob[i] === "\\") i++;
    else if (glob[i] === "]") return i;
  }
  return -1;
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function escapeClass(c: string): string {
  return c.replace(/[\]\\^-]/g, "\\$&");
}

// Test fixture: a unique schema per test with a table of URLs in text, varchar, json and jsonb columns.
import pg from "pg";
import { databaseUrl } from "@reclaim/core/testing";
import { storedPathRewriter, rewriteJsonStrings } from "./urls.ts";

export const HOSTS = ["cdn.example.ai", "cdn-dev.example.ai"];

/** The url of row i: 70 % on the CDN hosts in several spellings, the rest elsewhere, paths, data: or NULL. */
export function urlOf(i: number): string | null {
  switch (i % 10) {
    case 0: return `https://cdn.example.ai/generations/${i}/image.png`;
    case 1: return `//CDN-DEV.example.ai/generations/${i}/a%20b.png?w=64#top`;
    case 2: return `http://cdn.example.ai:8080/generations/${i}.png`;
    case 3: return `https://cdn-dev.example.ai/generations/${i}/x.png?sig=a%2Fb`;
    case 4: return `https://Cdn.Example.AI/g/${i}`;
    case 5: return `https://cdn.example.ai/generations/${i}/video.mp4`;
    case 6: return `https://cdn-dev.example.ai`;
    case 7: return `https://other.example.com/generations/${i}.png`;
    case 8: return i % 20 === 8 ? null : `/generations/${i}/already.png`;
    default: return `data:image/png;base64,AAAA${i}`;
  }
}

/** The jsonb / json value of row i (json spells slashes as \/ on odd rows). */
export function metaOf(i: number): string {
  const value = JSON.stringify({ image: urlOf(i), thumbs: [urlOf(i + 1), { nested: urlOf(i + 3) }], n: i, big: "12345678901234567890" });
  return i % 2 === 1 ? value.replaceAll("/", "\\/") : value;
}

/** A pool on the shared test database. */
export function testPool(): pg.Pool {
  return new pg.Pool({ connectionString: databaseUrl, max: 6 });
}

/** Creates `schema.assets(id bigint pk, url text, name varchar(300), meta jsonb, doc json, n int)` with `rows` rows. */
export async function createAssets(pool: pg.Pool, schema: string, rows: number): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; CREATE SCHEMA "${schema}"`);
  await pool.query(`CREATE TABLE "${schema}".assets (id bigint PRIMARY KEY, url text, name varchar(300), meta jsonb, doc json, n int NOT NULL DEFAULT 0, dup int)`);
  const ids = Array.from({ length: rows }, (_, i) => i + 1);
  for (let start = 0; start < ids.length; start += 5000) {
    const chunk = ids.slice(start, start + 5000);
    await pool.query(
      `INSERT INTO "${schema}".assets (id, url, name, meta, doc, dup)
       SELECT id, url, url, meta::jsonb, meta::json, 1 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(id, url, meta)`,
      [chunk, chunk.map(urlOf), chunk.map(metaOf)],
    );
  }
}

/** What every row must hold after a complete backfill of url, name, meta and doc. */
export function expectedRow(i: number): { url: string | null; meta: string; doc: string } {
  const rewrite = storedPathRewriter({ hosts: HOSTS });
  const url = urlOf(i);
  const meta = metaOf(i);
  return {
    url: url === null ? null : (rewrite(url) ?? url),
    meta: rewriteJsonStrings(meta, rewrite)?.text ?? meta,
    doc: rewriteJsonStrings(meta, rewrite)?.text ?? meta,
  };
}

/** The table's content, ordered by id: url, name, meta (as jsonb text) and doc (json text as stored). */
export async function contentOf(pool: pg.Pool, schema: string): Promise<Array<{ id: string; url: string | null; name: string | null; meta: string; doc: string }>> {
  const { rows } = await pool.query(`SELECT id::text, url, name, meta::text AS meta, doc::text AS doc FROM "${schema}".assets ORDER BY id`);
  return rows;
}

/** Backfill options for the fixture's four columns. */
export function assetOptions(schema: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hosts: HOSTS,
    columns: ["url", "name", "meta", "doc"].map((column) => ({ table: `${schema}.assets`, column })),
    progressTable: `${schema}.progress`,
    ...extra,
  };
}

/** A schema name unique to this test. */
export function uniqueSchema(prefix: string): string {
  return `cdn_${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

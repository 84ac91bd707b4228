/**
 * @module store/write — the SQL that records one version of one resource, or the first versions of many.
 *
 * A version is written as one statement (data-modifying CTEs): the current row, the history row and the
 * search rows go in together, so a plain create is a single round trip and atomic even outside a
 * transaction. Sub-statements share one snapshot, so deleting the old search rows and inserting the new ones
 * in the same statement cannot touch each other's rows.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { extractIndexRows } from './index-values.ts';
import type { Fragment } from './search-sql.ts';

export type VersionRow = {
  type: string;
  id: string;
  version: number;
  lastUpdated: string;
  /** undefined → a deletion. */
  resource: Resource | undefined;
  /** true when no current row exists yet (INSERT rather than UPDATE). */
  isNew: boolean;
};

export async function writeVersion(sql: Sql, v: VersionRow): Promise<void> {
  const rows = indexRowsOf(v.resource ? [{ type: v.type, id: v.id, resource: v.resource }] : []);
  const content = v.resource ? sql.json(v.resource as never) : null;
  const deleted = v.resource === undefined;
  // The content is sent (and parsed as jsonb) once: the history row takes it from the current row's RETURNING.
  const current = v.isNew
    ? sql`INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content)
          VALUES (${v.type}, ${v.id}, ${v.version}, ${v.lastUpdated}, ${deleted}, ${content}::jsonb)
          RETURNING resource_type, id, version_id, last_updated, deleted, content`
    : sql`UPDATE resource SET version_id = ${v.version}, last_updated = ${v.lastUpdated}, deleted = ${deleted},
          content = ${content}::jsonb WHERE resource_type = ${v.type} AND id = ${v.id}
          RETURNING resource_type, id, version_id, last_updated, deleted, content`;
  await sql`
    WITH cur AS (${current}),
    hist AS (
      INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, content)
      SELECT resource_type, id, version_id, last_updated, deleted, content FROM cur),
    ${v.isNew ? sql`` : clearIndex(sql, v)}
    ${indexInserts(sql, rows, sql``)}
    SELECT 1`;
}

/** The search rows of the version being replaced (a new resource has none: nothing to plan or run). */
function clearIndex(sql: Sql, v: VersionRow) {
  return sql`
    d1 AS (DELETE FROM search_token WHERE resource_type = ${v.type} AND id = ${v.id}),
    d2 AS (DELETE FROM search_string WHERE resource_type = ${v.type} AND id = ${v.id}),
    d3 AS (DELETE FROM search_reference WHERE resource_type = ${v.type} AND id = ${v.id}),
    d4 AS (DELETE FROM search_date WHERE resource_type = ${v.type} AND id = ${v.id}),
    d5 AS (DELETE FROM search_number WHERE resource_type = ${v.type} AND id = ${v.id}),`;
}

/** A resource's first version, for {@link writeNewResources}. */
export type NewResource = { type: string; id: string; lastUpdated: string; resource: Resource };

/**
 * Writes a plain create (no condition, no change hook, no transaction) instead of the shared create batch, and
 * resolves once it is committed: the door's way to commit a resource with the request's audit record.
 */
export type CreateCommit = (item: NewResource) => Promise<void>;

/**
 * The first versions of many resources in one statement: current rows, history rows and every search row, each
 * table filled from one JSON array. One round trip and one plan, however many resources. With `guard` (an
 * `UPDATE … RETURNING` fragment) nothing is written unless the guard's update matched a row; the result says
 * whether it did (the caller's precondition, checked and applied in the same statement). `also`: more
 * common-table expressions (each ending with a comma) written by the same statement, such as the audit records of
 * the requests that made these resources (audit/trail.ts); they refer to `g` for the guard themselves.
 */
export async function writeNewResources(
  sql: Sql,
  resources: NewResource[],
  guard?: Fragment,
  also?: Fragment
): Promise<boolean> {
  const versions = resources.map((r) => ({ resource_type: r.type, id: r.id, last_updated: r.lastUpdated, content: r.resource }));
  const when = guard ? sql`WHERE EXISTS (SELECT 1 FROM g)` : sql``;
  const [row] = await sql<{ ok: boolean }[]>`
    WITH g AS (${guard ?? sql`SELECT 1`}),
    ${also ?? sql``}
    v AS (SELECT * FROM jsonb_to_recordset(${sql.json(versions as never)}::jsonb) AS x(resource_type text, id text, last_updated timestamptz, content jsonb) ${when}),
    cur AS (INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content)
      SELECT resource_type, id, 1, last_updated, false, content FROM v),
    hist AS (INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, content)
      SELECT resource_type, id, 1, last_updated, false, content FROM v),
    ${indexInserts(sql, indexRowsOf(resources), when)}
    SELECT EXISTS (SELECT 1 FROM g) AS ok`;
  return row?.ok === true;
}

/** The search rows of several resources, each row carrying its owner (`resource_type`, `id`). */
type OwnedRows = { tokens: object[]; numbers: object[]; strings: object[]; references: object[]; dates: object[] };

function indexRowsOf(resources: { type: string; id: string; resource: Resource }[]): OwnedRows {
  const out: OwnedRows = { tokens: [], numbers: [], strings: [], references: [], dates: [] };
  for (const r of resources) {
    const rows = extractIndexRows(r.resource);
    const owner = { resource_type: r.type, id: r.id };
    for (const kind of ['tokens', 'numbers', 'strings', 'references', 'dates'] as const) {
      for (const x of rows[kind]) out[kind].push({ ...owner, ...x });
    }
  }
  return out;
}

/** The last CTEs of a write (`i1` … `i5`): the search rows, one JSON array per table; `when` filters them all (a guard). */
function indexInserts(sql: Sql, rows: OwnedRows, when: Fragment) {
  const json = (r: object[]) => sql.json(r as never);
  return sql`
    i1 AS (INSERT INTO search_token (resource_type, id, code, system, value, text)
      SELECT x.resource_type, x.id, x.code, x.system, x.value, x.text
      FROM jsonb_to_recordset(${json(rows.tokens)}::jsonb) AS x(resource_type text, id text, code text, system text, value text, text text) ${when}),
    i5 AS (INSERT INTO search_number (resource_type, id, code, system, unit, low, high)
      SELECT x.resource_type, x.id, x.code, x.system, x.unit, x.low, x.high
      FROM jsonb_to_recordset(${json(rows.numbers)}::jsonb) AS x(resource_type text, id text, code text, system text, unit text, low numeric, high numeric) ${when}),
    i2 AS (INSERT INTO search_string (resource_type, id, code, value, raw)
      SELECT x.resource_type, x.id, x.code, x.value, x.raw
      FROM jsonb_to_recordset(${json(rows.strings)}::jsonb) AS x(resource_type text, id text, code text, value text, raw text) ${when}),
    i3 AS (INSERT INTO search_reference (resource_type, id, code, target)
      SELECT x.resource_type, x.id, x.code, x.target
      FROM jsonb_to_recordset(${json(rows.references)}::jsonb) AS x(resource_type text, id text, code text, target text) ${when}),
    i4 AS (INSERT INTO search_date (resource_type, id, code, low, high)
      SELECT x.resource_type, x.id, x.code, x.low::timestamptz, x.high::timestamptz
      FROM jsonb_to_recordset(${json(rows.dates)}::jsonb) AS x(resource_type text, id text, code text, low text, high text) ${when})`;
}

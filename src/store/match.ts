/**
 * @module store/match — the resources a conditional search names (conditional create, update and delete,
 * conditional references, the entries of an HL7 v2 plan): their ids, at most two (one decides, two prove
 * ambiguity).
 */
import { splitSearchOnComma, type SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { PendingQuery, Row, Sql } from 'postgres';
import { identifierRows, lookByIdentifiers, type IdentifierRow } from './match-identifiers.ts';
import { buildWhere } from './search-sql.ts';

type Refuse = (unsupported: string) => never;

/** `refuse` is called with the parameters a condition cannot use, and throws. */
export async function matchIds(sql: Sql, search: SearchRequest, baseUrl: string, refuse: Refuse): Promise<string[]> {
  const rows = (await lookFor(sql, search, baseUrl, refuse)) as unknown as { id: string }[];
  return rows.map((r) => r.id);
}

/**
 * The same, for a write that creates on a miss: after a miss, a transaction-scoped advisory lock on the
 * normalised search is held until the transaction ends, so two writers cannot both create. When a match exists
 * nobody can create a second one, so no lock is taken (ADT messages naming one payer do not queue behind each
 * other) and the statement is planned once, not twice. After a miss, the lock and the second look are sent
 * together (one round trip): the connection runs them in order, so the second look happens under the lock.
 */
export async function lockAndMatch(
  sql: Sql,
  search: SearchRequest,
  baseUrl: string,
  refuse: Refuse
): Promise<string[]> {
  const first = await matchIds(sql, search, baseUrl, refuse);
  if (first.length > 0) return first;
  // postgres.js sends a query when it is awaited: `execute()` sends the locks now, before the look that follows.
  // Sorted, so that two writers wanting the same keys take them in the same order.
  const lock =
    sql`SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(${lockKeys(search)}::text[]) AS k ORDER BY k`.execute();
  const [, ids] = await Promise.all([lock, matchIds(sql, search, baseUrl, refuse)]);
  return ids;
}

/**
 * {@link lockAndMatch} for several searches at once, in three statements however many there are: one look for
 * all of them; after misses, the locks of every miss (sorted together) and a second look for the misses, sent
 * together. What an HL7 v2 plan's entries are matched with: a message of five entries costs three statements,
 * not fifteen. Searches by identifier take one statement of fixed shape (./match-identifiers.ts), which also puts
 * the content of what it finds in `contents`, the others one UNION; both go in the same round trip.
 */
export async function lockAndMatchMany(
  sql: Sql,
  searches: SearchRequest[],
  baseUrl: string,
  refuse: Refuse,
  contents: Map<string, Resource> = new Map()
): Promise<string[][]> {
  if (searches.length === 0) return [];
  if (searches.length === 1) return [await lockAndMatch(sql, searches[0] as SearchRequest, baseUrl, refuse)];
  const looks = searches.map((search): Look => {
    const rows = identifierRows(search);
    return rows ? { rows } : { fragment: lookFor(sql, search, baseUrl, refuse) };
  });
  const found = await lookTogether(sql, looks, contents);
  const misses = found.flatMap((ids, i) => (ids.length === 0 ? [i] : []));
  if (misses.length === 0) return found;
  const keys = [...new Set(misses.flatMap((i) => lockKeys(searches[i] as SearchRequest)))].sort();
  const lock =
    sql`SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(${keys}::text[]) AS k ORDER BY k`.execute();
  const [, again] = await Promise.all([
    lock,
    lookTogether(
      sql,
      misses.map((i) => looks[i] as Look),
      contents
    ),
  ]);
  misses.forEach((i, n) => (found[i] = again[n] as string[]));
  return found;
}

/** A search as it is looked up: by identifier rows, or by its generic statement fragment. */
type Look = { rows: IdentifierRow[] } | { fragment: PendingQuery<Row[]> };

/** The ids (at most two) one search names, as a statement fragment. */
function lookFor(sql: Sql, search: SearchRequest, baseUrl: string, refuse: Refuse): PendingQuery<Row[]> {
  const built = buildWhere(sql, search, baseUrl);
  if (built.unsupported.length > 0) refuse(built.unsupported.join(', '));
  return built.ids ? sql`${built.ids} LIMIT 2` : sql`SELECT r.id FROM resource r WHERE ${built.where} LIMIT 2`;
}

/** Several looks in at most two statements sent together: the identifier rows, and a UNION of the others. */
async function lookTogether(sql: Sql, looks: Look[], contents: Map<string, Resource>): Promise<string[][]> {
  const byRows = looks.flatMap((l, i) => ('rows' in l ? [i] : []));
  const generic = looks.flatMap((l, i) => ('fragment' in l ? [i] : []));
  const rowsOf = (i: number) => (looks[i] as { rows: IdentifierRow[] }).rows;
  const fragmentOf = (i: number) => (looks[i] as { fragment: PendingQuery<Row[]> }).fragment;
  const [a, b] = await Promise.all([
    byRows.length ? lookByIdentifiers(sql, byRows.map(rowsOf), contents) : [],
    generic.length ? lookUnion(sql, generic.map(fragmentOf)) : [],
  ]);
  const out: string[][] = looks.map(() => []);
  byRows.forEach((i, n) => (out[i] = a[n] as string[]));
  generic.forEach((i, n) => (out[i] = b[n] as string[]));
  return out;
}

/** Several generic looks in one statement, each answer tagged with its look's position. */
async function lookUnion(sql: Sql, looks: PendingQuery<Row[]>[]): Promise<string[][]> {
  const parts = looks.map((look, i) => sql`SELECT ${i}::int AS i, m.id FROM (${look}) m`);
  const union = parts.reduce((all, part) => sql`${all} UNION ALL ${part}`);
  const rows = await sql<{ i: number; id: string }[]>`${union}`;
  const out: string[][] = looks.map(() => []);
  for (const r of rows) out[r.i]?.push(r.id);
  return out;
}

/**
 * What a creating writer locks. A match by identifiers locks each identifier (`Patient|identifier=s|v`): two
 * messages naming one new patient by different lists of identifiers (`A~B`, `B~C`) share a lock and cannot both
 * create it. Any other match locks its whole normalised search.
 */
export function lockKeys(search: SearchRequest): string[] {
  const identifiers = (search.filters ?? []).filter((f) => f.code === 'identifier' && f.operator === 'eq');
  if (identifiers.length)
    return [
      ...new Set(
        identifiers.flatMap((f) => splitSearchOnComma(f.value).map((v) => `${search.resourceType}|identifier=${v}`))
      ),
    ];
  return [
    `${search.resourceType}?${(search.filters ?? [])
      .map((f) => `${f.code}:${f.operator}=${f.value}`)
      .sort()
      .join('&')}`,
  ];
}
